// Drives Debian's chromium (playwright-core, no downloaded browser) through concord's
// report.html and the page `concord serve` serves at `/`, asserting on what renders.
// Run by tests/browser.rs, which builds the report and starts the server:
//
//   node check.mjs SPEC.json
//
// SPEC: {report, base, shots, top: [a, b], empty: [a, b], query, query_doc}.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const browser = await chromium.launch({
  executablePath: process.env.CONCORD_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const failures = [];
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.on("pageerror", (e) => failures.push(`page error: ${e.message}`));
page.on("console", (m) => m.type() === "error" && failures.push(`console error: ${m.text()}`));
const requests = [];
page.on("request", (r) => requests.push(r.url()));

// Checks the heatmap, the pair view and the claims of a rendered clustering view.
async function checkView(where) {
  const [a, b] = spec.top;
  const top = await page.locator("#top-pair").innerText();
  assert.ok(top.includes(a) && top.includes(b), `${where}: top pair reads ${JSON.stringify(top)}`);

  const claims = page.locator("#claims .claim");
  assert.ok((await claims.count()) >= 1, `${where}: no claims rendered`);
  const first = await claims.first().locator("li").count();
  assert.ok(first >= 2, `${where}: the first claim lists ${first} passages`);

  // Open the top pair from its heatmap cell: aligned rows with shared text marked.
  await page.locator(`#heatmap button.cell[data-a="${b}"][data-b="${a}"]`).click();
  assert.equal(await page.locator("#pair-a").inputValue(), b);
  const rows = page.locator("#pair-view tr.pair-row");
  assert.ok((await rows.count()) >= 1, `${where}: no aligned passages for the top pair`);
  assert.ok((await page.locator("#pair-view mark").count()) >= 2, `${where}: no shared text highlighted`);
  const labels = await page.locator("#pair-view .label").allInnerTexts();
  assert.ok(labels.includes("duplicate"), `${where}: labels in the pair view: ${labels}`);
  // Every row's left side belongs to the article chosen first.
  for (const id of await page.locator("#pair-view td.side-a .muted").allInnerTexts()) {
    assert.ok(id.startsWith(b + "#"), `${where}: left side shows ${id}, not article ${b}`);
  }

  // A pair sharing nothing says so.
  const [x, y] = spec.empty;
  await page.locator(`#heatmap button.cell[data-a="${x}"][data-b="${y}"]`).click();
  assert.match(await page.locator("#pair-view").innerText(), /share no passage/, `${where}: empty pair`);
}

// 1. The report, from disk.
await page.goto(pathToFileURL(spec.report).href);
await checkView("report.html");
await page.locator(`#heatmap button.cell[data-a="${spec.top[0]}"][data-b="${spec.top[1]}"]`).click();
await page.screenshot({ path: join(spec.shots, "report.png"), fullPage: true });
const external = requests.filter((u) => !u.startsWith("file:") && !u.startsWith("data:"));
assert.deepEqual(external, [], "report.html fetched something");

// 2. The live page: browse, paste text, open the map.
await page.goto(spec.base + "/");
await page.locator("#documents tbody tr").first().waitFor();
const docs = await page.locator("#documents tbody tr").count();
assert.equal(docs, spec.articles, "articles listed");
await page.locator("a.doc-link", { hasText: spec.query_doc }).click();
await page.locator("#document li").first().waitFor();
assert.ok((await page.locator("#document li").count()) >= 5, "passages of the opened article");

await page.locator('nav button[data-tab="search"]').click();
await page.locator("#query").fill(spec.query);
await page.locator("#find").click();
await page.locator("#matches li, #results .empty").first().waitFor();
const matches = page.locator("#matches li");
assert.ok((await matches.count()) >= 1, "no match for the pasted text");
assert.equal(await matches.first().locator(".label").innerText(), "duplicate");
assert.ok((await matches.first().locator("mark").count()) >= 1, "pasted text: shared part not highlighted");
await page.screenshot({ path: join(spec.shots, "search.png"), fullPage: true });

await page.locator('nav button[data-tab="map"]').click();
await page.locator("#top-pair").waitFor();
await checkView("live page");
await page.locator(`#heatmap button.cell[data-a="${spec.top[0]}"][data-b="${spec.top[1]}"]`).click();
await page.screenshot({ path: join(spec.shots, "page.png"), fullPage: true });

await browser.close();
assert.deepEqual(failures, [], "errors in the page");
console.log("browser checks passed");
