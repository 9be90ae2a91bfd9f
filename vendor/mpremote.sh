#!/usr/bin/env bash
# MicroPython's own host tool, mpremote (MIT, from the micropython repository, tools/mpremote,
# v1.28; vendor/mpremote/LICENSE), run from source: the client real users point at a board. The
# tests and benches run it against `qhil sim --pty`. Needs Debian's python3-serial and
# python3-platformdirs (apt-get install python3-serial python3-platformdirs; .ci/run installs them).
here=$(cd "$(dirname "$0")" && pwd)
PYTHONPATH="$here/mpremote${PYTHONPATH:+:$PYTHONPATH}" exec /usr/bin/python3 -m mpremote "$@"
