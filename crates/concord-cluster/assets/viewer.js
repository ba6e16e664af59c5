// concord viewer, part 1 of 3 (with viewer-pair.js and viewer-lists.js, served and
// inlined as one script): renders a clustering view (the JSON of
// concord_cluster::report::View):
// a label filter and a confidence control that every list follows, export of what is
// shown (CSV, JSON), where the articles disagree, the article pairs that share the most,
// how much of each article others share, the heatmap (titles on the axes, a colour
// scale), the clusters, when dates are known a timeline of who published each claim
// first and who repeated it, the cross-article claims, any two articles side by side (both full texts, every shared claim
// highlighted and linked to its partner, labels in the margin, scrolling together;
// then the matched claims row by row) and, apart, the boilerplate the articles share.
// Articles are named by their title when they have one. Used inline by report.html
// and served by `concord serve` for its page at `/`.
//
// This file holds the helpers every part uses and `render`, which derives what the
// parts share (the filter state, article names, pair lookups, the export) and draws
// them; viewer-pair.js builds the two-article view, viewer-lists.js every other section.
"use strict";

const ConcordViewer = (() => {
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  // What each label means, for a reader who is not an engineer.
  const MEANING = {
    duplicate: "the same text, possibly in the other Chinese script",
    overlap: "the same specific fact, figure, quote or event",
    conflict: "these two articles disagree on this point",
    agree: "the same claim or judgement in other words",
    related: "about the same thing, without a shared claim",
    boilerplate: "notices, disclaimers, bylines or app prompts; never counted",
  };
  // Finding labels, strongest first, as the article pair counts list them.
  const COUNTED = ["duplicate", "overlap", "conflict", "agree"];

  // `text` with the character ranges `spans` ([{start, end}], in code points) marked.
  function marked(text, spans, cls) {
    const chars = Array.from(text);
    const on = new Array(chars.length).fill(false);
    for (const s of spans || []) {
      for (let i = Math.max(0, s.start); i < Math.min(chars.length, s.end); i++) on[i] = true;
    }
    const out = document.createDocumentFragment();
    let i = 0;
    while (i < chars.length) {
      let j = i;
      while (j < chars.length && on[j] === on[i]) j++;
      const piece = chars.slice(i, j).join("");
      out.append(on[i] ? el("mark", { class: cls || "shared" }, piece) : piece);
      i = j;
    }
    return out;
  }

  // A claim (`ref`, a PassageRef) shown in its paragraph: the paragraph muted, the
  // claim in <mark class="claim">, the text shared with the other side (`spans`,
  // offsets in the claim) marked inside it.
  function inContext(ref, spans, extraClass) {
    const claim = el("mark", { class: "claim" + (extraClass ? " " + extraClass : "") }, marked(ref.text, spans));
    const out = document.createDocumentFragment();
    const context = Array.from(ref.context || "");
    const text = Array.from(ref.text);
    let at = (ref.start ?? 0) - (ref.context_start ?? 0);
    if (at < 0 || context.slice(at, at + text.length).join("") !== ref.text) {
      const found = (ref.context || "").indexOf(ref.text);
      at = found < 0 ? -1 : Array.from(ref.context.slice(0, found)).length;
    }
    if (at < 0) {
      out.append(claim);
      return out;
    }
    const before = context.slice(0, at).join("");
    const after = context.slice(at + text.length).join("");
    if (before) out.append(el("span", { class: "context" }, before));
    out.append(claim);
    if (after) out.append(el("span", { class: "context" }, after));
    return out;
  }

  // Where a claim sits in its article: "paragraph 3", its id (doc#N) on hover.
  function where(ref) {
    return el("span", { class: "muted where", title: ref.passage, "data-passage": ref.passage }, `paragraph ${(ref.paragraph ?? 0) + 1}`);
  }

  function badge(label) {
    return el("span", { class: "label " + label, title: MEANING[label] || label }, label);
  }

  // Why the judge saw a contradiction, from a pair's evidence.
  function reasons(evidence) {
    const out = [];
    if (!evidence) return out;
    if (evidence.numbers_clash) out.push("different figures");
    if (evidence.negation_differs) out.push("one side denies it");
    if (evidence.opposed) out.push("opposite claims");
    return out;
  }

  // "14 duplicate · 1 conflict": the non-zero finding counts of an article pair.
  function counts(p) {
    const parts = COUNTED.filter((l) => p[l] > 0);
    if (parts.length === 0) return el("span", { class: "counts muted" }, "nothing counted");
    return el(
      "span",
      { class: "counts" },
      parts.map((l, i) => [i ? " · " : "", `${p[l]} `, badge(l)])
    );
  }

  // Rows of passage pairs, side by side: `a` left, `b` right, each claim in its
  // paragraph with the claim and the shared text marked.
  function pairTable(pairs, headA, headB) {
    const side = (ref, spans, label) =>
      el(
        "div",
        { class: "side" },
        el("div", { class: "ref muted" }, ref.passage, ` · paragraph ${(ref.paragraph ?? 0) + 1}`),
        el("div", { class: "passage" }, inContext(ref, spans, label === "conflict" ? "conflict" : null))
      );
    const body = pairs.map((m) => {
      const why = m.label === "conflict" ? [MEANING.conflict, ...reasons(m.evidence)].join("; ") : null;
      return el(
        "tr",
        { class: "pair-row " + m.label, "data-label": m.label },
        el("td", { class: "side-a" }, side(m.a, m.evidence.shared.map((s) => s.a), m.label)),
        el("td", { class: "mid" }, badge(m.label), el("div", { class: "muted" }, m.score.toFixed(2)), why ? el("div", { class: "why" }, why) : null),
        el("td", { class: "side-b" }, side(m.b, m.evidence.shared.map((s) => s.b), m.label))
      );
    });
    return el("table", { class: "pairs" }, el("thead", {}, el("tr", {}, el("th", {}, headA), el("th", {}, ""), el("th", {}, headB))), el("tbody", {}, body));
  }

  // Quoted for a CSV field.
  function csvField(v) {
    const t = v === undefined || v === null ? "" : String(v);
    return /[",\n\r]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  }

  // Offers `text` as a file download named `name`.
  function download(name, type, text) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = el("a", { href: url, download: name, hidden: "" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  // A publication time as the reader wants it: the date, and the time when given.
  function when(published) {
    if (!published) return null;
    const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}))?/.exec(published);
    return m ? (m[2] ? `${m[1]} ${m[2]}` : m[1]) : published;
  }

  function render(root, view) {
    const c = view.clustering;
    const texts = view.texts || {};
    const articles = new Map(c.articles.map((a) => [a.id, a]));
    const title = (id) => {
      const a = articles.get(id);
      return a && a.title ? a.title : null;
    };
    // For plain text (menus, tooltips): "Title (id)".
    const plainName = (id) => (title(id) ? `${title(id)} (${id})` : id);
    // For the page: the title, with the id small and muted.
    const name = (id) =>
      title(id)
        ? el("span", { class: "article", "data-id": id }, el("span", { class: "title" }, title(id)), " ", el("span", { class: "id" }, id))
        : el("span", { class: "article", "data-id": id }, el("span", { class: "id only" }, id));
    // Outlet and date of an article, when known.
    const byline = (id) => {
      const m = (articles.get(id) || {}).meta || {};
      const parts = [m.outlet, when(m.published)].filter(Boolean);
      return parts.length ? el("span", { class: "byline muted" }, parts.join(" · ")) : null;
    };
    const names = (ids, sep) => ids.map((id, i) => [i ? (sep instanceof Node ? sep.cloneNode(true) : sep || " · ") : "", name(id)]);
    const pairKey = (a, b) => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);
    const byPair = new Map(c.article_pairs.map((p) => [pairKey(p.a, p.b), p]));
    const boilerplate = c.boilerplate || [];

    // What every list shows: the checked labels, at or above the confidence.
    const state = { labels: new Set(COUNTED), minScore: 0, pair: null, together: true };
    const keep = (label, score) => state.labels.has(label) && score >= state.minScore - 1e-9;
    const kept = (p) => p.aligned.filter((m) => keep(m.label, m.score));
    const tally = (pairs) => {
      const n = Object.fromEntries(COUNTED.map((l) => [l, 0]));
      for (const m of pairs) if (m.label in n) n[m.label]++;
      return n;
    };
    // The passage pairs shown, for export: oriented as in the article pairs.
    const shownPairs = () => c.article_pairs.flatMap((p) => kept(p));

    function exportRows() {
      return shownPairs().map((m) => ({
        label: m.label,
        score: Number(m.score.toFixed(4)),
        a_article: m.a.doc,
        a_title: m.a.title || "",
        a_passage: m.a.passage,
        a_text: m.a.text,
        b_article: m.b.doc,
        b_title: m.b.title || "",
        b_passage: m.b.passage,
        b_text: m.b.text,
        shared: m.evidence.shared.map((s) => s.a.text).join(" | "),
      }));
    }
    const COLUMNS = ["label", "score", "a_article", "a_title", "a_passage", "a_text", "b_article", "b_title", "b_passage", "b_text", "shared"];
    const exportCsv = () => {
      const rows = exportRows();
      download("concord-pairs.csv", "text/csv;charset=utf-8", [COLUMNS.join(","), ...rows.map((r) => COLUMNS.map((k) => csvField(r[k])).join(","))].join("\n") + "\n");
    };
    const exportJson = () => {
      const filter = { labels: COUNTED.filter((l) => state.labels.has(l)), min_score: state.minScore };
      download("concord-pairs.json", "application/json", JSON.stringify({ filter, pairs: exportRows() }, null, 2) + "\n");
    };

    // What the other parts read; `draw` and `showPair` are filled in below.
    const ctx = { c, view, texts, state, keep, kept, tally, shownPairs, title, plainName, name, byline, names, pairKey, byPair, boilerplate, exportCsv, exportJson };
    ctx.openButton = (a, b, text) => el("button", { class: "action open-pair", "data-a": a, "data-b": b, onclick: () => ctx.showPair(a, b) }, text || "side by side");
    const pair = ConcordViewer.pairView(ctx);
    ctx.showPair = pair.showPair;
    const s = ConcordViewer.sections(ctx);

    // Draws everything from the view and the filter; keeps the open pair and the
    // place on the page.
    function draw() {
      const y = window.scrollY;
      root.replaceChildren(...[s.summary(), s.controls(), s.disagreements(), s.pairsSection(), s.perArticle(), s.heatmap(), s.clusters(), s.timeline(), s.claims(), pair.section, s.boilerplateSection()].filter(Boolean));
      const top = c.article_pairs[0];
      const [a, b] = state.pair || (top ? [top.a, top.b] : c.articles.length > 1 ? [c.articles[0].id, c.articles[1].id] : [null, null]);
      if (a && b) pair.showPair(a, b, false);
      window.scrollTo(0, y);
    }
    ctx.draw = draw;
    draw();
    window.scrollTo(0, 0);
  }

  return { render, el, marked, inContext, badge, where, counts, reasons, pairTable, when, MEANING, COUNTED };
})();
