/**
 * Test support for the HTML reports in a real Chromium: open a page from a file with every other
 * request refused and recorded, console errors and page errors collected, and a screenshot checked
 * for ink (a PNG decoded with node:zlib: 8-bit RGB or RGBA, as Chromium writes them).
 */
import { inflateSync } from 'node:zlib';
import type { BrowserContext, Page } from 'playwright-core';

export interface CheckedPage {
  page: Page;
  /** Every URL the page asked for besides itself: must stay empty. */
  requests: string[];
  /** console.error messages and uncaught page errors: must stay empty. */
  errors: string[];
}

export async function openChecked(context: BrowserContext, url: string): Promise<CheckedPage> {
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.route('**/*', (route) => {
    const asked = route.request().url();
    if (asked === url) return route.continue();
    requests.push(asked);
    return route.abort('blockedbyclient');
  });
  await page.goto(url, { waitUntil: 'load' });
  return { page, requests, errors };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes an 8-bit RGB/RGBA, non-interlaced PNG into rows of bytes. */
export function decodePng(png: Buffer): { width: number; height: number; channels: number; pixels: Buffer } {
  if (png.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8];
      const colour = data[9];
      if (depth !== 8 || (colour !== 2 && colour !== 6) || data[12] !== 0) throw new Error(`unsupported PNG (depth ${depth}, colour ${colour})`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] ?? 0;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? (pixels[y * stride + x - channels] ?? 0) : 0;
      const up = y > 0 ? (pixels[(y - 1) * stride + x] ?? 0) : 0;
      const upLeft = y > 0 && x >= channels ? (pixels[(y - 1) * stride + x - channels] ?? 0) : 0;
      const value = line[x] ?? 0;
      const predicted = filter === 1 ? left : filter === 2 ? up : filter === 3 ? (left + up) >> 1 : filter === 4 ? paeth(left, up, upLeft) : 0;
      pixels[y * stride + x] = (value + predicted) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

/** The share of pixels that differ from the top-left (background) pixel. */
export function inkShare(png: Buffer): number {
  const { width, height, channels, pixels } = decodePng(png);
  let ink = 0;
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      if (Math.abs((pixels[i * channels + c] ?? 0) - (pixels[c] ?? 0)) > 24) {
        ink += 1;
        break;
      }
    }
  }
  return ink / (width * height);
}
