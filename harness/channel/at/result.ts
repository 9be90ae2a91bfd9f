import { cmeCodeOfText, cmeMeaning, cmsCodeOfText, cmsMeaning } from './codes.js';

/** Host times of one command: wall clock (Date.now()) for comparisons with the board's clock. */
export interface AtTiming {
  /** Host wall-clock ms right before the command was written (not when it was queued). */
  hostSendMs: number;
  /** Host wall-clock ms right after the final result code was parsed. */
  hostReceiveMs: number;
}

export interface AtOk extends AtTiming {
  final: 'OK';
  command: string;
  /** Intermediate lines in order, echo and URCs removed. */
  lines: string[];
}

export type AtFailure = AtTiming & { command: string; lines: string[] } & (
    | { final: 'ERROR' }
    | {
        final: 'CME ERROR' | 'CMS ERROR';
        /** Numeric code; for a text result (AT+CMEE=2) looked up from the text, undefined if unknown. */
        code: number | undefined;
        /** What the board printed after the colon. */
        codeText: string;
        /** What the code means (`SIM not inserted`). */
        meaning: string;
      }
  );

export type AtResult = AtOk | AtFailure;

export type FinalCode =
  | { final: 'OK' }
  | { final: 'ERROR' }
  | { final: 'CME ERROR' | 'CMS ERROR'; code: number | undefined; codeText: string; meaning: string };

/** Recognises a final result code line; undefined for any other line. */
export function parseFinalCode(line: string): FinalCode | undefined {
  if (line === 'OK') return { final: 'OK' };
  if (line === 'ERROR') return { final: 'ERROR' };
  const match = /^\+(CME|CMS) ERROR:\s*(.*)$/.exec(line);
  if (!match) return undefined;
  const kind = match[1] === 'CME' ? 'CME ERROR' : 'CMS ERROR';
  const codeText = (match[2] ?? '').trim();
  const numeric = /^\d+$/.test(codeText) ? Number(codeText) : undefined;
  const code = numeric ?? (kind === 'CME ERROR' ? cmeCodeOfText(codeText) : cmsCodeOfText(codeText));
  const meaning =
    numeric !== undefined ? (kind === 'CME ERROR' ? cmeMeaning(numeric) : cmsMeaning(numeric)) : codeText;
  return { final: kind, code, codeText, meaning };
}
