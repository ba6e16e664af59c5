// Walks the real task through concord's report.html in Debian's chromium, at a desktop
// and at a phone's width, taking a screenshot of each step: the article pairs that
// share the most, a heatmap cell, the two articles side by side with their shared
// claims highlighted, the label filter, the export. Run by tests/browser.rs on
// ../shared/corpus:
//
//   node walk.mjs SPEC.json
//
// SPEC: {report, shots, top: [a, b], titles: {id: title}, pairs: aligned pairs of the
// top two articles, labels: {label: aligned pairs with it}, all_pairs}.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseCsv } from "./csv.mjs";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const browser = await chromium.launch({
  executablePath: process.env.CONCORD_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const failures = [];
const q = JSON.stringify;
const [a, b] = spec.top;

for (const [width, height, tag] of [[1280, 900, "desktop"], [390, 844, "phone"]]) {
  const page = await browser.newPage({ viewport: { width, height } });
  page.on("pageerror", (e) => failures.push(`${tag}: page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && failures.push(`${tag}: console error: ${m.text()}`));
  const shot = (step) => page.screenshot({ path: join(spec.shots, `corpus-${tag}-${step}.png`) });
  const wide = async (step) => {
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(w <= width, `${tag}, ${step}: the page is ${w} px wide`);
  };
  await page.goto(pathToFileURL(spec.report).href);

  // 1. The article pairs that share the most, by title where the article has one.
  const first = page.locator("#article-pairs tbody tr").first();
  await first.scrollIntoViewIfNeeded();
  const names = await first.locator(".names .article").evaluateAll((ns) => ns.map((n) => n.dataset.id));
  assert.deepEqual(names, [a, b], `${tag}: the first article pair`);
  for (const id of [a, b]) {
    if (spec.titles[id]) assert.equal(await first.locator(`.article[data-id=${q(id)}] .title`).innerText(), spec.titles[id], `${tag}: title of ${id}`);
  }
  await wide("pairs");
  await shot("1-pairs");

  // 2. Its heatmap cell opens the two articles side by side.
  const cell = page.locator(`#heatmap button.cell[data-a=${q(a)}][data-b=${q(b)}]`);
  await cell.scrollIntoViewIfNeeded();
  assert.ok(Number(await cell.getAttribute("data-value")) === spec.pairs, `${tag}: the cell counts ${await cell.getAttribute("data-value")}`);
  await shot("2-heatmap");
  await cell.click();

  // 3. Both full texts, the shared claims highlighted, each linked to its partner.
  const hl = page.locator("#text-a .claim-text.hl");
  assert.ok((await hl.count()) >= 1, `${tag}: nothing highlighted`);
  assert.equal(await page.locator("#pair-view tr.pair-row").count(), spec.pairs, `${tag}: pair rows`);
  await hl.first().click();
  assert.ok((await page.locator("#text-b .claim-text.hl.focus").count()) >= 1, `${tag}: the partner is not marked`);
  await wide("side by side");
  await page.locator("#pair-texts").scrollIntoViewIfNeeded();
  await shot("3-side-by-side");

  // 4. The label filter: one label at a time, every list follows.
  const shown = async () => Number(await page.locator("#shown-count").getAttribute("data-count"));
  assert.equal(await shown(), spec.all_pairs, `${tag}: pairs shown`);
  const labels = Object.keys(spec.labels).filter((l) => spec.labels[l] > 0);
  const keepOnly = labels.sort((x, y) => spec.labels[x] - spec.labels[y])[0];
  for (const l of ["duplicate", "overlap", "conflict", "agree"]) {
    if (l !== keepOnly) await page.locator(`input.label-filter[value=${l}]`).uncheck();
  }
  assert.equal(await shown(), spec.labels[keepOnly], `${tag}: ${keepOnly} pairs shown`);
  const claimLabels = await page.locator("#claims .claim").evaluateAll((cs) => cs.map((k) => k.dataset.label));
  assert.ok(claimLabels.every((l) => l === keepOnly), `${tag}: claims of other labels`);
  await page.locator("#filters").scrollIntoViewIfNeeded();
  await shot("4-filter");

  // 5. Export what is shown.
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#export-csv").click()]);
  const rows = parseCsv(readFileSync(await download.path(), "utf8"));
  assert.equal(rows.length - 1, spec.labels[keepOnly], `${tag}: exported rows`);
  assert.ok(rows.slice(1).every((r) => r[0] === keepOnly), `${tag}: exported labels`);
  await shot("5-export");
  await page.close();
}

await browser.close();
assert.deepEqual(failures, [], "errors in the page");
console.log("corpus walk passed");
