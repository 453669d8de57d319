// Opens an slm eval HTML report in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core) and checks that it renders:
// no console or page errors, no network requests (the report must be
// self-contained), and every expected chart is a visible inline SVG with
// marks in it. Usage: node render_check.js REPORT.html [SCREENSHOT.png]
// EXPECT_CHARTS=id,id adds charts that must be there too (chart-tiers,
// chart-calibration).
const path = require('path');
const { chromium } = require('playwright-core');

const EXPECTED = ['chart-success-cost', 'chart-success', 'chart-latency']
  .concat((process.env.EXPECT_CHARTS || '').split(',').filter((x) => x));

async function main() {
  const file = path.resolve(process.argv[2]);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  const problems = [];
  try {
    const page = await browser.newPage();
    page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
    page.on('pageerror', (e) => problems.push('page error: ' + e));
    page.on('request', (r) => { if (!r.url().startsWith('file:')) problems.push('network request: ' + r.url()); });
    await page.goto('file://' + file, { waitUntil: 'load' });
    const charts = await page.$$eval('svg.chart', (svgs) => svgs.map((s) => {
      const b = s.getBoundingClientRect();
      return { id: s.id, w: b.width, h: b.height,
               marks: s.querySelectorAll('circle, rect, polyline, line').length };
    }));
    for (const id of EXPECTED) {
      const c = charts.find((x) => x.id === id);
      if (!c) problems.push('missing chart ' + id);
      else if (!(c.w > 100 && c.h > 100)) problems.push(`chart ${id} is ${c.w}x${c.h}`);
      else if (c.marks < 3) problems.push(`chart ${id} has only ${c.marks} marks`);
    }
    const summaryRows = await page.$$eval('#summary tr', (rows) => rows.length);
    if (summaryRows < 2) problems.push('summary table has no target rows');
    if (process.argv[3]) await page.screenshot({ path: process.argv[3], fullPage: true });
  } finally {
    await browser.close();
  }
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
  console.log('rendered ' + EXPECTED.length + ' charts without errors');
}

main().catch((e) => { console.error(e); process.exit(1); });
