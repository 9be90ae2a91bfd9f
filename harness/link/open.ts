import type { Link } from './link.js';
import { SerialLink } from './serial.js';
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
    : await SerialLink.open(address, { baudRate: options.baudRate });
  return options.transcriptPath
    ? new TranscriptTap(link, options.transcriptPath, { maxBytes: options.transcriptMaxBytes })
    : link;
}
