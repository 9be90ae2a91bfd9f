/**
 * report.pdf for QA sign-off: report.html printed by Chromium (browser.ts) to A4 with page numbers
 * in the footer; the page's print CSS puts the sign-off block and every board's firmware on page 1.
 * Every request but the page itself is refused, so printing can never reach the network.
 * Import dynamically: it pulls in the browser module.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeFailure } from './io-error.js';
import { openBrowser } from './browser.js';
import { REPORT_HTML } from './html/report.js';

export const REPORT_PDF = 'report.pdf';

export { BrowserUnavailableError } from './browser.js';

const FOOTER =
  '<div style="font-size:8px;width:100%;padding:0 12mm;color:#555;display:flex;justify-content:space-between">' +
  '<span>qhil report</span><span>page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>';

/** Prints `<runDir>/report.html` to `<runDir>/report.pdf`; returns its path. Throws BrowserUnavailableError when no browser starts. */
export async function writeReportPdf(runDir: string, options: { browser?: string } = {}): Promise<string> {
  const htmlUrl = pathToFileURL(join(runDir, REPORT_HTML)).href;
  const browser = await openBrowser(options.browser);
  try {
    const page = await browser.context.newPage();
    await page.route('**/*', (route) => (route.request().url() === htmlUrl ? route.continue() : route.abort('blockedbyclient')));
    await page.goto(htmlUrl, { waitUntil: 'load' });
    await page.emulateMedia({ media: 'print' });
    const pdf = await page.pdf({
      format: 'A4',
      printBackground: true,
      displayHeaderFooter: true,
      headerTemplate: '<div></div>',
      footerTemplate: FOOTER,
      margin: { top: '14mm', bottom: '16mm', left: '12mm', right: '12mm' },
    });
    const path = join(runDir, REPORT_PDF);
    await writeBytesAtomic(path, pdf);
    return path;
  } finally {
    await browser.close();
  }
}

/** Temp file and rename, so a reader never sees half a PDF; a failed write names the file and why. */
async function writeBytesAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, bytes, { flush: true });
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw writeFailure('write', file, error);
  }
}
