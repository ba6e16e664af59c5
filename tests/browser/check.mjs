// Drives Debian's chromium (playwright-core, no downloaded browser) through concord's
// report.html and the page `concord serve` serves at `/`, asserting on what renders.
// Run by tests/browser.rs, which builds the report, starts the server and picks the
// article pairs to open from clusters.json:
//
//   node check.mjs SPEC.json
//
// SPEC: {report, base, shots, top: [a, b], conflict: [a, b], conflict_texts, empty:
// [a, b] | null, articles: [id], titles: {id: title}, passages: {id: claims},
// texts: {passage id: claim}, notice, boilerplate: pairs, boilerplate_lines: passages,
// query, query_passage, query_doc, conflict_pairs, high: score, high_pairs,
// all_pairs, dated: claims with a first publication}.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseCsv } from "./csv.mjs";
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

const q = JSON.stringify;
const cell = (a, b) => page.locator(`#heatmap button.cell[data-a=${q(a)}][data-b=${q(b)}]`);
const title = (id) => spec.titles[id];

// The claims highlighted on one side of the pair view match the pairs' claims, each
// shown inside its paragraph; the side's passages all belong to article `id`.
async function checkSide(where, side, id) {
  const cells = page.locator(`#pair-view td.${side}`);
  const n = await cells.count();
  for (let i = 0; i < n; i++) {
    const ref = (await cells.nth(i).locator(".ref").innerText()).split(" ")[0];
    assert.ok(ref.startsWith(id + "#"), `${where}: ${side} shows ${ref}, not article ${id}`);
    const claim = cells.nth(i).locator("mark.claim");
    assert.equal(await claim.count(), 1, `${where}: ${ref} has no highlighted claim`);
    assert.equal(await claim.textContent(), spec.texts[ref], `${where}: ${ref} highlights something else`);
  }
}

// Checks titles, disagreements, the article pairs, the heatmap, the claims, the pair
// views and the boilerplate section of a rendered clustering view.
async function checkView(where) {
  const [a, b] = spec.top;
  const top = page.locator("#top-pair");
  const topText = await top.innerText();
  assert.ok(topText.includes(a) && topText.includes(b), `${where}: top pair reads ${q(topText)}`);
  assert.deepEqual(await top.locator(".article .title").allInnerTexts(), [title(a), title(b)], `${where}: top pair titles`);

  // Titles on both axes of the heatmap, a colour scale, titles in the cells' tooltips.
  for (const axis of ["row-head", "col-head"]) {
    const key = await page.locator(`#heatmap .${axis} .title`).allInnerTexts();
    assert.deepEqual([...key].sort(), spec.articles.map(title).sort(), `${where}: heatmap ${axis}`);
  }
  assert.match(await page.locator("#heat-scale").innerText(), /passage pairs?/, `${where}: no colour scale`);
  const tip = await cell(a, b).getAttribute("title");
  assert.ok(tip.includes(title(a)) && tip.includes(title(b)), `${where}: cell tooltip ${q(tip)}`);
  const [ca, cb] = spec.conflict;
  assert.match(await cell(ca, cb).getAttribute("title"), /disagree/, `${where}: the disputed cell does not say so`);

  // Where the articles disagree: conflicting claims side by side.
  const versus = page.locator("#disagreements .versus");
  assert.ok((await versus.count()) >= 1, `${where}: no disagreement listed`);
  assert.equal(await versus.first().locator(".label").innerText(), "conflict");
  assert.equal(await versus.first().locator("mark.claim.conflict").count(), 2, `${where}: a disagreement highlights both claims`);
  assert.ok((await versus.first().locator(".article .title").count()) === 2, `${where}: a disagreement names both articles by title`);

  // Article pairs: a conflict column, counted for the disputed pair.
  assert.ok((await page.locator("#article-pairs thead .label.conflict").count()) === 1, `${where}: no conflict column`);
  const disputedRow = page.locator("#article-pairs tbody tr", { has: page.locator(`button.open-pair[data-a=${q(ca)}][data-b=${q(cb)}]`) });
  assert.ok(Number(await disputedRow.locator("td.count.conflict").innerText()) >= 1, `${where}: the disputed pair counts no conflict`);
  assert.deepEqual(await disputedRow.locator(".article .title").allInnerTexts(), [title(ca), title(cb)], `${where}: article pair titles`);

  // Claims: passages in several articles, named by title; some disputed; no boilerplate.
  const claims = page.locator("#claims .claim");
  assert.ok((await claims.count()) >= 1, `${where}: no claims rendered`);
  const first = await claims.first().locator("li").count();
  assert.ok(first >= 2, `${where}: the first claim lists ${first} passages`);
  assert.ok((await claims.first().locator(".src .article .title").count()) >= 2, `${where}: claim passages without titles`);
  assert.ok((await page.locator("#claims .claim.conflict").count()) >= 1, `${where}: no conflict claim`);
  assert.ok((await page.locator("#claims .claim.conflict li.disputed").count()) >= 2, `${where}: a conflict claim marks no disputed passages`);
  assert.equal(await page.locator("#claims .label.boilerplate").count(), 0, `${where}: a boilerplate claim`);
  assert.ok(!(await page.locator("#claims").innerText()).includes(spec.notice), `${where}: boilerplate among the claims`);

  // Boilerplate: its own section, collapsed until opened.
  const details = page.locator("#boilerplate details");
  assert.equal(await details.evaluate((d) => d.open), false, `${where}: the boilerplate section starts open`);
  assert.ok(!(await page.locator("#boilerplate table").isVisible()), `${where}: boilerplate shown before it is opened`);
  await page.locator("#boilerplate summary").click();
  assert.equal(await page.locator("#boilerplate tbody tr").count(), Math.min(300, spec.boilerplate_lines), `${where}: boilerplate lines`);
  assert.ok((await page.locator("#boilerplate").innerText()).includes(spec.notice), `${where}: the notice is not in the boilerplate section`);
  assert.match(await page.locator("#boilerplate summary").innerText(), new RegExp(`\\(${spec.boilerplate} pairs?\\)`));
  await page.locator("#boilerplate summary").click();

  // Open the top pair from its heatmap cell, the other way round: aligned rows, each
  // claim highlighted in its paragraph, shared text marked inside.
  await cell(b, a).click();
  assert.equal(await page.locator("#pair-a").inputValue(), b);
  const rows = page.locator("#pair-view tr.pair-row");
  const n = await rows.count();
  assert.ok(n >= 1, `${where}: no aligned passages for the top pair`);
  assert.equal(await page.locator("#pair-view td.side-a mark.claim").count(), n, `${where}: claims highlighted on the left`);
  assert.equal(await page.locator("#pair-view td.side-b mark.claim").count(), n, `${where}: claims highlighted on the right`);
  assert.ok((await page.locator("#pair-view mark.claim mark.shared").count()) >= 2, `${where}: no shared text marked in the claims`);
  assert.ok((await page.locator("#pair-view .context").count()) >= 1, `${where}: no paragraph around a claim`);
  const labels = await page.locator("#pair-view .label").allInnerTexts();
  assert.ok(labels.includes("duplicate"), `${where}: labels in the pair view: ${labels}`);
  assert.deepEqual(await page.locator("#pair-view thead .article .title").allInnerTexts(), [title(b), title(a)], `${where}: pair view headers`);
  await checkSide(where, "side-a", b);
  await checkSide(where, "side-b", a);
  await checkFullTexts(where, b, a);

  // The disputed pair, from its button in the article pairs table: its conflict rows
  // say the two articles disagree, on the claims clusters.json names.
  await disputedRow.locator("button.open-pair").click();
  assert.equal(await page.locator("#pair-a").inputValue(), ca);
  const conflicts = page.locator("#pair-view tr.pair-row.conflict");
  assert.ok((await conflicts.count()) >= 1, `${where}: no conflict row for ${ca} / ${cb}`);
  assert.equal(await conflicts.first().locator("td.mid .label").innerText(), "conflict");
  assert.match(await conflicts.first().locator(".why").innerText(), /disagree on this point/);
  assert.match(await page.locator("#pair-view .summary").innerText(), /conflict[\s\S]*disagree on/, `${where}: the pair summary`);
  const disputedClaims = await conflicts.locator("td.side-a mark.claim.conflict").evaluateAll((ms) => ms.map((m) => m.textContent));
  for (const t of spec.conflict_texts) assert.ok(disputedClaims.includes(t), `${where}: conflict claim ${q(t)} not highlighted`);
  await checkSide(where, "side-a", ca);
  await checkSide(where, "side-b", cb);

  // A pair sharing nothing says so.
  if (spec.empty) {
    const [x, y] = spec.empty;
    await cell(x, y).click();
    assert.match(await page.locator("#pair-view").innerText(), /share no passage/, `${where}: empty pair`);
  }
}

// The two full texts of the open pair: every claim of both articles, the shared ones
// highlighted (as many as the pair rows hold), each linked to its partner, labels in
// the margin, and the two sides scrolling together.
async function checkFullTexts(where, a, b) {
  for (const [side, id] of [["#text-a", a], ["#text-b", b]]) {
    assert.equal(await page.locator(`${side} .doc-head .title`).innerText(), title(id), `${where}: ${side} header`);
    assert.equal(await page.locator(`${side} .claim-text`).count(), spec.passages[id], `${where}: ${side} does not show all of ${id}`);
  }
  const rowsA = new Set((await page.locator("#pair-view td.side-a .ref").allInnerTexts()).map((t) => t.split(" ")[0]));
  const hl = page.locator("#text-a .claim-text.hl");
  assert.equal(await hl.count(), rowsA.size, `${where}: highlighted claims on the left`);
  for (const id of await hl.evaluateAll((ns) => ns.map((n) => n.dataset.passage))) assert.ok(rowsA.has(id), `${where}: ${id} highlighted but in no pair row`);
  const partners = await hl.evaluateAll((ns) => ns.flatMap((n) => n.dataset.partners.split(" ")));
  for (const p of partners) assert.equal(await page.locator(`#text-b .claim-text.hl[data-passage=${q(p)}]`).count(), 1, `${where}: partner ${p} is not highlighted on the right`);
  assert.ok((await page.locator("#text-a .gutter .label").count()) >= 1, `${where}: no label in the margin`);
  // Clicking the last highlighted claim brings its partner into view, marked.
  const last = hl.last();
  const partner = (await last.getAttribute("data-partners")).split(" ")[0];
  await last.click();
  const target = page.locator(`#text-b .claim-text[data-passage=${q(partner)}]`);
  assert.match(await target.getAttribute("class"), /focus/, `${where}: the partner is not marked`);
  await page.waitForTimeout(100);
  const inView = await target.evaluate((t) => {
    const box = t.closest(".doc-scroll").getBoundingClientRect();
    const r = t.getBoundingClientRect();
    return r.top >= box.top - 1 && r.top < box.bottom;
  });
  assert.ok(inView, `${where}: the partner of the clicked claim is not in view`);
  // Scrolling the left text scrolls the right one.
  await page.waitForTimeout(300);
  const moved = await page.evaluate(async () => {
    const [l, r] = [...document.querySelectorAll("#pair-texts .doc-scroll")];
    if (l.scrollHeight <= l.clientHeight || r.scrollHeight <= r.clientHeight) return "not scrollable";
    l.scrollTop = 0;
    await new Promise((ok) => setTimeout(ok, 300));
    r.scrollTop = 0;
    await new Promise((ok) => setTimeout(ok, 300));
    l.scrollTop = (l.scrollHeight - l.clientHeight) / 2;
    await new Promise((ok) => setTimeout(ok, 300));
    return r.scrollTop / (r.scrollHeight - r.clientHeight);
  });
  assert.ok(moved === "not scrollable" || (moved > 0.4 && moved < 0.6), `${where}: the right text followed to ${moved}`);
}

// Downloads what an export button gives.
async function exported(button) {
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator(button).click()]);
  return readFileSync(await download.path(), "utf8");
}

const shownCount = async () => Number(await page.locator("#shown-count").getAttribute("data-count"));

// The label filter and the confidence control: every list follows them, and the
// exports hold what is shown.
async function checkFilters(where) {
  const [ca, cb] = spec.conflict;
  assert.equal(await shownCount(), spec.all_pairs, `${where}: pairs shown unfiltered`);
  for (const l of ["duplicate", "overlap", "agree"]) await page.locator(`input.label-filter[value=${l}]`).uncheck();
  assert.equal(await shownCount(), spec.conflict_pairs, `${where}: conflict pairs shown`);
  await page.locator(`#article-pairs button.open-pair[data-a=${q(ca)}][data-b=${q(cb)}]`).click();
  const rows = page.locator("#pair-view tr.pair-row");
  assert.ok((await rows.count()) >= 1, `${where}: no conflict row left`);
  assert.deepEqual([...new Set(await rows.evaluateAll((rs) => rs.map((r) => r.dataset.label)))], ["conflict"], `${where}: rows of other labels`);
  assert.deepEqual([...new Set(await page.locator("#claims .claim").evaluateAll((cs) => cs.map((k) => k.dataset.label)))], ["conflict"], `${where}: claims of other labels`);
  const cells = await page.locator("#heatmap button.cell").evaluateAll((cs) => cs.reduce((s, c) => s + Number(c.dataset.value), 0));
  assert.equal(cells, 2 * spec.conflict_pairs, `${where}: the heatmap counts other labels`);
  assert.equal(await page.locator("#text-a .claim-text.hl.conflict").count(), await page.locator("#text-a .claim-text.hl").count(), `${where}: full texts highlight other labels`);
  await page.screenshot({ path: join(spec.shots, `${where === "report.html" ? "report" : "page"}-filtered.png`) });
  const csv = parseCsv(await exported("#export-csv"));
  assert.equal(csv[0][0], "label", `${where}: CSV header ${csv[0]}`);
  assert.equal(csv.length - 1, spec.conflict_pairs, `${where}: CSV rows`);
  assert.ok(csv.slice(1).every((r) => r[0] === "conflict"), `${where}: CSV holds other labels`);
  for (const l of ["duplicate", "overlap", "agree"]) await page.locator(`input.label-filter[value=${l}]`).check();
  assert.equal(await shownCount(), spec.all_pairs, `${where}: pairs shown after the filter is undone`);

  await page.locator("#min-score").fill(String(spec.high));
  assert.equal(await shownCount(), spec.high_pairs, `${where}: pairs at confidence ${spec.high}`);
  const scores = await page.locator("#pair-view tr.pair-row td.mid .muted").allInnerTexts();
  assert.ok(scores.every((t) => Number(t) >= spec.high - 0.005), `${where}: scores under ${spec.high}: ${scores}`);
  const json = JSON.parse(await exported("#export-json"));
  assert.equal(json.filter.min_score, spec.high);
  assert.equal(json.pairs.length, spec.high_pairs, `${where}: JSON pairs`);
  assert.ok(json.pairs.every((p) => p.score >= spec.high - 1e-6 && p.a_title && p.b_title), `${where}: JSON pairs`);
  await page.locator("#min-score").fill("0");
  assert.equal(await shownCount(), spec.all_pairs);

  // How much of each article others share.
  assert.equal(await page.locator("#article-shares tbody tr").count(), spec.articles.length, `${where}: per-article rows`);
  const [a] = spec.top;
  const shared = Number(await page.locator(`#article-shares tr[data-id=${q(a)}] td.share`).getAttribute("data-shared"));
  assert.ok(shared >= 1 && shared <= spec.passages[a], `${where}: ${a} shares ${shared}`);

  // With publication dates, claims say who published first and who repeated it.
  if (spec.dated) {
    assert.equal(await page.locator("#claims .claim .first-seen").count(), Math.min(200, spec.dated), `${where}: claims with a first publication`);
    const firsts = await page.locator("#claims .claim:has(.first-seen)").evaluateAll((cs) => cs.map((k) => k.querySelectorAll("li.first").length));
    assert.ok(firsts.every((n) => n === 1), `${where}: one first passage per dated claim`);
    // The timeline: the dated claims in the order they first appeared.
    const times = await page.locator("#timeline li").evaluateAll((ls) => ls.map((l) => l.dataset.published));
    assert.equal(times.length, Math.min(200, spec.dated), `${where}: timeline entries`);
    assert.deepEqual(times, [...times].sort(), `${where}: the timeline is out of order`);
    assert.ok((await page.locator("#timeline .repeats").count()) >= 1, `${where}: nobody repeats a claim in the timeline`);
  }
}

// The page at a phone's width: nothing wider than the screen, the pair readable.
async function checkPhone(url, where, shot, open) {
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  phone.on("pageerror", (e) => failures.push(`page error (390 px): ${e.message}`));
  await phone.goto(url);
  if (open) await open(phone);
  await phone.locator("#top-pair").waitFor();
  const [a, b] = spec.top;
  await phone.locator(`#heatmap button.cell[data-a=${q(a)}][data-b=${q(b)}]`).click();
  assert.ok((await phone.locator("#text-a .claim-text.hl").count()) >= 1, `${where} at 390 px: no highlighted claim`);
  const wide = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `${where} at 390 px is ${wide} px wide`);
  await phone.screenshot({ path: join(spec.shots, shot) });
  await phone.locator("#map").scrollIntoViewIfNeeded();
  await phone.screenshot({ path: join(spec.shots, shot.replace(".png", "-map.png")) });
  await phone.close();
}

// 1. The report, from disk.
await page.goto(pathToFileURL(spec.report).href);
await checkView("report.html");
await checkFilters("report.html");
await cell(spec.conflict[0], spec.conflict[1]).click();
await page.evaluate(() => window.scrollTo(0, 0));
await page.screenshot({ path: join(spec.shots, "report-top.png") });
await page.screenshot({ path: join(spec.shots, "report.png"), fullPage: true });
await page.locator("#pair").screenshot({ path: join(spec.shots, "report-pair.png") });
const external = requests.filter((u) => !u.startsWith("file:") && !u.startsWith("data:"));
assert.deepEqual(external, [], "report.html fetched something");

// 2. The live page: browse, paste text, open the map.
await page.goto(spec.base + "/");
await page.locator("#documents tbody tr").first().waitFor();
assert.equal(await page.locator("#documents tbody tr").count(), spec.articles.length, "articles listed");
assert.deepEqual((await page.locator("#documents .article .title").allInnerTexts()).sort(), spec.articles.map(title).sort(), "article titles listed");
await page.locator(`a.doc-link[data-id=${q(spec.query_doc)}]`).click();
await page.locator("#document li").first().waitFor();
assert.ok((await page.locator("#document li").count()) >= 5, "claims of the opened article");
assert.equal(await page.locator("#document h2 .title").innerText(), title(spec.query_doc));

// Pasting a claim verbatim finds it as a duplicate, highlighted in its paragraph.
await page.locator('nav button[data-tab="search"]').click();
await page.locator("#query").fill(spec.query);
await page.locator("#find").click();
await page.locator("#matches li, #results .empty").first().waitFor();
const matches = page.locator("#matches li");
assert.ok((await matches.count()) >= 1, "no match for the pasted claim");
assert.equal(await matches.first().locator(".label").innerText(), "duplicate");
const found = page.locator(`#matches li[data-passage=${q(spec.query_passage)}]`);
assert.equal(await found.count(), 1, `the pasted claim ${spec.query_passage} is not found`);
assert.equal(await found.getAttribute("data-label"), "duplicate");
assert.equal(await found.locator(".article .title").innerText(), title(spec.query_doc));
assert.equal(await found.locator("mark.claim").textContent(), spec.query, "the found claim is not highlighted");
assert.ok((await found.locator("mark.claim mark.shared").count()) >= 1, "pasted text: shared part not marked");
await page.screenshot({ path: join(spec.shots, "search.png"), fullPage: true });

// A query that fails clears the old results and says why in plain words.
await page.route("**/overlaps", (route) => route.abort());
await page.locator("#find").click();
await page.locator("#results .error").waitFor();
assert.match(await page.locator("#results .error").innerText(), /could not be reached/, "the failed query's message");
assert.equal(await page.locator("#matches").count(), 0, "old results stay under the error");
await page.unroute("**/overlaps");
await page.locator("#find").click();
await page.locator("#matches li").first().waitFor();
assert.equal(await page.locator("#results .error").count(), 0, "the error stays after a query that works");
failures.splice(0, failures.length, ...failures.filter((f) => !/Failed to load resource/.test(f)));

await page.locator('nav button[data-tab="map"]').click();
await page.locator("#top-pair").waitFor();
await checkView("live page");
await checkFilters("live page");
await cell(spec.conflict[0], spec.conflict[1]).click();
await page.screenshot({ path: join(spec.shots, "page.png"), fullPage: true });

// 3. Both at a phone's width.
await checkPhone(pathToFileURL(spec.report).href, "report.html", "report-phone.png");
await checkPhone(spec.base + "/", "live page", "page-phone.png", (p) => p.locator('nav button[data-tab="map"]').click());

await browser.close();
assert.deepEqual(failures, [], "errors in the page");
console.log("browser checks passed");
