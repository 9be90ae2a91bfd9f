/** QuecPython's `machine.RTC` for the simulated board, as Python source: sets the board's clock. Listed in umqtt.ts. */

export const MACHINE = `
from _qsimb import call
import utime

class RTC:
    def datetime(self, t=None):
        if t is None:
            lt = utime.localtime()
            return (lt[0], lt[1], lt[2], lt[6], lt[3], lt[4], lt[5], 0)
        return call('rtc_set', 5000, list(t))
`;
