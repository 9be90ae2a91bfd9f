import type { Link } from './link.js';
import { TcpLink } from './tcp.js';
import { TranscriptTap } from './transcript.js';

export interface OpenLinkOptions {
  /** When given, every byte both ways is recorded there. */
  transcriptPath?: string;
  /** Cap on the transcript file in bytes (TranscriptTap's default, 64 MiB, when not given). */
  transcriptMaxBytes?: number;
  baudRate?: number;
}

/** Opens a port by address: `tcp://host:port` or a serial device path. Throws InfrastructureError. */
export async function openLink(address: string, options: OpenLinkOptions = {}): Promise<Link> {
  const link: Link = address.startsWith('tcp://')
    ? await TcpLink.open(address)
    : // serialport (a native addon, ~30 ms to load) only when a device is opened: not for tcp://, nor for --help.
      await (await import('./serial.js')).SerialLink.open(address, { baudRate: options.baudRate });
  return options.transcriptPath
    ? new TranscriptTap(link, options.transcriptPath, { maxBytes: options.transcriptMaxBytes })
    : link;
}
