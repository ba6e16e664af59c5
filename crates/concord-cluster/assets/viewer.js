// concord viewer: renders a clustering view (the JSON of concord_cluster::report::View):
// a label filter and a confidence control that every list follows, export of what is
// shown (CSV, JSON), where the articles disagree, the article pairs that share the most,
// how much of each article others share, the heatmap (titles on the axes, a colour
// scale), the clusters, when dates are known a timeline of who published each claim
// first and who repeated it, the cross-article claims, any two articles side by side (both full texts, every shared claim
// highlighted and linked to its partner, labels in the margin, scrolling together;
// then the matched claims row by row) and, apart, the boilerplate the articles share.
// Articles are named by their title when they have one. Used inline by report.html
// and served by `concord serve` for its page at `/`.
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

    // The filter bar, redrawn with the rest.
    function controls() {
      const shown = shownPairs().length;
      return el(
        "section",
        { id: "filters" },
        el(
          "div",
          { class: "filter-labels" },
          "Show ",
          COUNTED.map((l) =>
            el(
              "label",
              { class: "filter" },
              el("input", {
                type: "checkbox",
                class: "label-filter",
                value: l,
                ...(state.labels.has(l) ? { checked: "" } : {}),
                onchange: (e) => {
                  if (e.target.checked) state.labels.add(l);
                  else state.labels.delete(l);
                  draw();
                },
              }),
              " ",
              badge(l)
            )
          )
        ),
        el(
          "label",
          { class: "filter-score" },
          "confidence at least ",
          el("input", {
            type: "range",
            id: "min-score",
            min: "0",
            max: "1",
            step: "0.05",
            value: String(state.minScore),
            oninput: (e) => {
              document.getElementById("min-score-value").textContent = Number(e.target.value).toFixed(2);
            },
            onchange: (e) => {
              state.minScore = Number(e.target.value);
              draw();
            },
          }),
          " ",
          el("output", { id: "min-score-value" }, state.minScore.toFixed(2))
        ),
        el("span", { id: "shown-count", class: "muted", "data-count": shown }, `${shown} passage ${shown === 1 ? "pair" : "pairs"} shown`),
        el("span", { class: "export" }, el("button", { class: "action", id: "export-csv", onclick: exportCsv }, "Export CSV"), " ", el("button", { class: "action", id: "export-json", onclick: exportJson }, "Export JSON"))
      );
    }

    // Two articles: both full texts, side by side, every claim they share highlighted
    // and linked to its partner, the labels in the margin; then the pairs row by row.
    const selA = el("select", { id: "pair-a" }, c.articles.map((a) => el("option", { value: a.id }, plainName(a.id))));
    const selB = el("select", { id: "pair-b" }, c.articles.map((a) => el("option", { value: a.id }, plainName(a.id))));
    const pairOut = el("div", { id: "pair-view" });
    const textsOut = el("div", { id: "pair-texts" });
    const together = el("input", { type: "checkbox", id: "scroll-together", checked: "", onchange: (e) => (state.together = e.target.checked) });
    const pairSection = el(
      "section",
      { id: "pair" },
      el("h2", {}, "Two articles side by side"),
      el("p", { class: "pair-choice" }, selA, " and ", selB, " ", el("label", { class: "muted" }, together, " scroll together")),
      textsOut,
      pairOut
    );

    function fullTexts(a, b, rows) {
      textsOut.replaceChildren();
      if (!texts[a] || !texts[b]) return;
      // Per claim: its partners on the other side, its label, the shared spans.
      const marks = [new Map(), new Map()];
      const strength = (l) => COUNTED.indexOf(l);
      for (const m of rows) {
        [
          [0, m.a, m.b, m.evidence.shared.map((s) => s.a)],
          [1, m.b, m.a, m.evidence.shared.map((s) => s.b)],
        ].forEach(([side, self, other, spans]) => {
          const e = marks[side].get(self.passage) || { partners: [], label: m.label, spans: [] };
          e.partners.push(other.passage);
          if (strength(m.label) < strength(e.label)) e.label = m.label;
          e.spans.push(...spans);
          marks[side].set(self.passage, e);
        });
      }
      const cols = [];
      let quietUntil = 0;
      const spanOf = (side, id) => cols[side] && cols[side].querySelector(`[data-passage="${CSS.escape(id)}"]`);
      function focus(side, id, partners) {
        for (const n of textsOut.querySelectorAll(".focus")) n.classList.remove("focus");
        const self = spanOf(side, id);
        if (self) self.classList.add("focus");
        const other = 1 - side;
        let first = null;
        for (const p of partners) {
          const t = spanOf(other, p);
          if (t) {
            t.classList.add("focus");
            first = first || t;
          }
        }
        if (first) {
          // Bring the partner into view without dragging this side along.
          const box = cols[other];
          quietUntil = performance.now() + 250;
          box.scrollTop += first.getBoundingClientRect().top - box.getBoundingClientRect().top - 24;
        }
      }
      [a, b].forEach((id, side) => {
        const paragraphs = [];
        for (const p of texts[id]) {
          const last = paragraphs[paragraphs.length - 1];
          if (last && last.paragraph === p.paragraph) last.passages.push(p);
          else paragraphs.push({ paragraph: p.paragraph, passages: [p] });
        }
        const scroll = el(
          "div",
          { class: "doc-scroll", tabindex: "0" },
          paragraphs.map((para) => {
            const labels = [];
            const body = [];
            let end = null;
            for (const p of para.passages) {
              if (end !== null && p.start > end) body.push(" ");
              end = p.end;
              const e = marks[side].get(p.passage);
              if (!e) {
                body.push(el("span", { class: "claim-text", "data-passage": p.passage }, p.text));
                continue;
              }
              if (!labels.includes(e.label)) labels.push(e.label);
              body.push(
                el(
                  "span",
                  {
                    class: `claim-text hl ${e.label}`,
                    "data-passage": p.passage,
                    "data-partners": e.partners.join(" "),
                    role: "button",
                    tabindex: "0",
                    title: `${e.label}: ${MEANING[e.label]}. Click to see it in the other article.`,
                    onclick: () => focus(side, p.passage, e.partners),
                    onkeydown: (ev) => (ev.key === "Enter" || ev.key === " ") && (ev.preventDefault(), focus(side, p.passage, e.partners)),
                  },
                  marked(p.text, e.spans)
                )
              );
            }
            return el("div", { class: "para" }, el("div", { class: "gutter" }, labels.map(badge)), el("p", {}, body));
          })
        );
        cols[side] = scroll;
        textsOut.append(el("div", { class: "doc-col", id: side ? "text-b" : "text-a" }, el("div", { class: "doc-head" }, name(id), " ", byline(id)), scroll));
      });
      // Scrolling one text scrolls the other to the same share of its length (the
      // scroll that follows is not echoed back).
      cols.forEach((box, side) =>
        box.addEventListener("scroll", () => {
          if (!state.together || performance.now() < quietUntil) return;
          const other = cols[1 - side];
          const span = box.scrollHeight - box.clientHeight;
          quietUntil = performance.now() + 100;
          other.scrollTop = span > 0 ? (box.scrollTop / span) * (other.scrollHeight - other.clientHeight) : 0;
        })
      );
    }

    function showPair(a, b, scroll = true) {
      state.pair = [a, b];
      selA.value = a;
      selB.value = b;
      pairOut.replaceChildren();
      textsOut.replaceChildren();
      if (a === b) {
        pairOut.append(el("p", { class: "muted" }, "Choose two different articles."));
        return;
      }
      const p = byPair.get(pairKey(a, b));
      const flip = p && p.a !== a;
      const rows = (p ? kept(p) : []).map((m) => (flip ? { ...m, a: m.b, b: m.a, evidence: { ...m.evidence, shared: m.evidence.shared.map((s) => ({ a: s.b, b: s.a })) } } : m));
      if (flip) rows.sort((x, y) => x.a.start - y.a.start);
      fullTexts(a, b, rows);
      if (!p || p.aligned.length === 0) {
        pairOut.append(el("p", { class: "empty" }, `These articles share no passage at ${c.min_label} or above.`));
      } else if (rows.length === 0) {
        pairOut.append(el("p", { class: "empty" }, "None of their shared passages passes the filter above."));
      } else {
        const n = tally(rows);
        pairOut.append(
          el(
            "p",
            { class: "summary" },
            counts(n),
            `; shared ${p.shared.toFixed(2)}.`,
            n.conflict ? el("strong", { class: "disagree" }, ` These two articles disagree on ${n.conflict === 1 ? "one point" : `${n.conflict} points`}.`) : null
          ),
          el("h3", {}, "The shared claims, row by row"),
          el("p", { class: "muted" }, "Each claim is shown in its paragraph; the claim is highlighted and the text both sides share is marked inside it."),
          pairTable(rows, name(a), name(b))
        );
      }
      if (scroll) pairSection.scrollIntoView({ block: "start" });
    }
    selA.addEventListener("change", () => showPair(selA.value, selB.value));
    selB.addEventListener("change", () => showPair(selA.value, selB.value));
    const openButton = (a, b, text) => el("button", { class: "action open-pair", "data-a": a, "data-b": b, onclick: () => showPair(a, b) }, text || "side by side");

    function summary() {
      const top = c.article_pairs[0];
      const disputed = c.claims.filter((k) => k.conflicts && k.conflicts.length);
      const legend = el(
        "dl",
        { class: "legend" },
        [...COUNTED, "boilerplate"].map((l) => [el("dt", {}, badge(l)), el("dd", {}, MEANING[l])])
      );
      return el(
        "section",
        { id: "summary" },
        el(
          "p",
          {},
          `${c.articles.length} articles, ${c.clusters.length} clusters, ${c.claims.length} cross-article claims, ${c.article_pairs.length} article pairs sharing passages at ${c.min_label} or above`,
          disputed.length ? el("strong", { class: "disagree" }, `; ${disputed.length} ${disputed.length === 1 ? "point" : "points"} on which articles disagree`) : null,
          "."
        ),
        top
          ? el("p", { id: "top-pair" }, "Shares the most: ", el("strong", {}, name(top.a)), " and ", el("strong", {}, name(top.b)), " (", counts(top), "). ", openButton(top.a, top.b))
          : el("p", { id: "top-pair" }, "No two articles share a passage."),
        legend
      );
    }

    // The points on which articles disagree, each conflicting pair of claims side by side.
    function disagreements() {
      const claimRef = (k, id) => k.passages.find((p) => p.passage === id);
      const disputed = state.labels.has("conflict") ? c.claims.filter((k) => k.conflicts && k.conflicts.length && k.score >= state.minScore - 1e-9) : [];
      return el(
        "section",
        { id: "disagreements" },
        el("h2", {}, "Where the articles disagree"),
        disputed.length
          ? disputed.slice(0, 100).map((k) =>
              el(
                "div",
                { class: "disagreement", "data-claim": k.id },
                k.conflicts.map(([x, y]) => {
                  const [px, py] = [claimRef(k, x), claimRef(k, y)];
                  if (!px || !py) return null;
                  return el(
                    "div",
                    { class: "versus" },
                    el("div", { class: "side" }, el("div", { class: "src" }, name(px.doc), " ", where(px)), el("div", { class: "passage" }, inContext(px, [], "conflict"))),
                    el("div", { class: "mid" }, badge("conflict"), el("div", {}, openButton(px.doc, py.doc))),
                    el("div", { class: "side" }, el("div", { class: "src" }, name(py.doc), " ", where(py)), el("div", { class: "passage" }, inContext(py, [], "conflict")))
                  );
                })
              )
            )
          : el("p", { class: "muted" }, state.labels.has("conflict") ? "No two articles contradict each other on a claim at this confidence." : "Conflicts are filtered out above.")
      );
    }

    function pairsSection() {
      const rows = c.article_pairs
        .map((p) => ({ p, n: tally(kept(p)) }))
        .filter(({ n }) => COUNTED.some((l) => n[l] > 0))
        .slice(0, 50);
      return el(
        "section",
        { id: "pairs" },
        el("h2", {}, "Article pairs that share the most"),
        rows.length
          ? el(
              "div",
              { class: "scroll-x" },
              el(
                "table",
                { id: "article-pairs" },
                el("thead", {}, el("tr", {}, el("th", {}, "shared"), COUNTED.map((l) => el("th", {}, badge(l))), el("th", {}, "articles"), el("th", {}, ""))),
                el(
                  "tbody",
                  {},
                  rows.map(({ p, n }) =>
                    el(
                      "tr",
                      { class: n.conflict ? "disputed" : null },
                      el("td", {}, p.shared.toFixed(2)),
                      COUNTED.map((l) => el("td", { class: "count " + l }, n[l])),
                      el("td", { class: "names" }, el("div", {}, name(p.a)), el("div", {}, name(p.b))),
                      el("td", {}, openButton(p.a, p.b))
                    )
                  )
                )
              )
            )
          : el("p", { class: "muted" }, "No article pair shares a passage that passes the filter.")
      );
    }

    // Per article: how much of it other articles share, and which.
    function perArticle() {
      const own = new Map(c.articles.map((a) => [a.id, { passages: new Set(), with: new Map() }]));
      for (const p of c.article_pairs) {
        for (const m of kept(p)) {
          for (const [self, other] of [[m.a, m.b], [m.b, m.a]]) {
            const e = own.get(self.doc);
            if (!e) continue;
            e.passages.add(self.passage);
            e.with.set(other.doc, (e.with.get(other.doc) || 0) + 1);
          }
        }
      }
      const rows = [...c.articles].map((a) => ({ a, e: own.get(a.id) })).sort((x, y) => y.e.passages.size / Math.max(y.a.passages, 1) - x.e.passages.size / Math.max(x.a.passages, 1));
      return el(
        "section",
        { id: "articles" },
        el("h2", {}, "How much of each article others share"),
        el(
          "div",
          { class: "scroll-x" },
          el(
            "table",
            { id: "article-shares" },
            el("thead", {}, el("tr", {}, el("th", {}, "article"), el("th", {}, "claims shared"), el("th", {}, "with"))),
            el(
              "tbody",
              {},
              rows.slice(0, 300).map(({ a, e }) => {
                const share = a.passages ? e.passages.size / a.passages : 0;
                const partners = [...e.with.entries()].sort((x, y) => y[1] - x[1]);
                return el(
                  "tr",
                  { "data-id": a.id },
                  el("td", {}, name(a.id), " ", byline(a.id)),
                  el("td", { class: "share", "data-shared": e.passages.size }, `${e.passages.size} of ${a.passages} (${Math.round(share * 100)}%)`, el("div", { class: "bar" }, el("span", { style: `width:${(share * 100).toFixed(1)}%` }))),
                  el(
                    "td",
                    { class: "partners" },
                    partners.length ? partners.map(([id, n], i) => [i ? el("br") : null, name(id), el("span", { class: "muted" }, ` ${n} ${n === 1 ? "pair" : "pairs"} `), openButton(a.id, id, "open")]) : el("span", { class: "muted" }, "nobody")
                  )
                );
              })
            )
          )
        )
      );
    }

    // Heatmap: one cell per article pair, darker the more passage pairs pass the
    // filter; a red corner where they disagree; titles on both axes.
    function heatmap() {
      const h = view.heatmap;
      const cells = h.order.map((ra) => h.order.map((rb) => (ra === rb ? null : byPair.get(pairKey(ra, rb)))));
      const values = cells.map((row) => row.map((p) => (p ? tally(kept(p)) : null)));
      const total = (n) => (n ? COUNTED.reduce((s, l) => s + n[l], 0) : 0);
      const max = Math.max(1, ...values.flat().map(total));
      const shade = (t) => {
        const mix = (from, to) => Math.round(from + (to - from) * t);
        return `rgb(${mix(247, 8)}, ${mix(251, 48)}, ${mix(255, 107)})`;
      };
      const grid = el(
        "div",
        { class: "heatmap", id: "heatmap", style: `--n: ${h.order.length}` },
        el("div", { class: "corner muted" }, ""),
        h.order.map((id, j) => el("div", { class: "col-head", title: plainName(id) }, el("span", { class: "num" }, j + 1), el("span", { class: "title" }, title(id) || id))),
        h.order.map((ra, i) => [
          el("div", { class: "row-head", title: plainName(ra) }, el("span", { class: "num" }, `${i + 1}`), " ", el("span", { class: "title" }, title(ra) || ra)),
          h.order.map((rb, j) => {
            if (i === j) return el("div", { class: "cell self" });
            const n = values[i][j];
            const v = total(n);
            const disputed = n && n.conflict > 0;
            const tip =
              `${plainName(ra)} / ${plainName(rb)}: ${v} passage ${v === 1 ? "pair" : "pairs"} shown` +
              (n ? ` (${COUNTED.filter((l) => n[l]).map((l) => `${n[l]} ${l}`).join(", ") || "none"})` : "") +
              `, shared ${h.values[i][j].toFixed(2)}` +
              (disputed ? `; they disagree on ${n.conflict === 1 ? "one point" : `${n.conflict} points`}` : "");
            return el("button", {
              class: "cell" + (disputed ? " disputed" : "") + (v ? "" : " empty"),
              "data-a": ra,
              "data-b": rb,
              "data-value": v,
              title: tip,
              "aria-label": tip,
              style: `background:${shade(v / max)}`,
              onclick: () => showPair(ra, rb),
            });
          }),
        ])
      );
      const scale = el(
        "div",
        { class: "scale", id: "heat-scale" },
        el("span", {}, "0"),
        el("span", { class: "ramp", style: `background: linear-gradient(to right, ${shade(0)}, ${shade(0.5)}, ${shade(1)})` }),
        el("span", {}, `${max} passage ${max === 1 ? "pair" : "pairs"}`),
        el("span", { class: "corner-key" }, el("span", { class: "tri" }), " they disagree on some point")
      );
      const key = el("ol", { class: "key" }, h.order.map((id) => el("li", {}, name(id), " ", byline(id))));
      return el(
        "section",
        { id: "map" },
        el("h2", {}, "What article pairs share"),
        el(
          "p",
          { class: "muted" },
          "Each cell counts the passage pairs two articles share that pass the filter above; darker is more. Click a cell to see the two articles side by side." +
            (h.omitted ? ` ${h.omitted} articles sharing the least are left out.` : "")
        ),
        el("div", { class: "scroll-x" }, grid),
        scale,
        el("details", { class: "key-list" }, el("summary", { class: "muted" }, "Articles by number"), key)
      );
    }

    function clusters() {
      return el(
        "section",
        { id: "clusters" },
        el("h2", {}, "Articles telling the same story"),
        c.clusters.length
          ? el(
              "ol",
              {},
              c.clusters.map((k) =>
                el("li", { class: "cluster" }, el("ul", {}, k.articles.map((id) => el("li", {}, name(id), " ", byline(id)))), el("div", { class: "muted" }, `shared ${k.shared.toFixed(2)}, ${k.claims.length} claims carried by two or more of them`))
              )
            )
          : el("p", { class: "muted" }, "No articles share enough to form a cluster.")
      );
    }

    // Claims, each with its passages; with dates, in publication order: who published
    // it first, who repeated it.
    function claims() {
      const shown = c.claims.filter((k) => keep(k.label, k.score));
      const dated = shown.filter((k) => k.first_seen);
      return el(
        "section",
        { id: "claims" },
        el("h2", {}, "Claims carried by several articles"),
        dated.length ? el("p", { class: "muted" }, `${dated.length} of them with publication dates: the passages are listed in the order they were published, the first marked.`) : null,
        shown.length
          ? shown.slice(0, 200).map((k) => {
              const inConflict = new Set((k.conflicts || []).flat());
              const passages = k.first_seen ? [...k.passages].sort((x, y) => (x.published || "\uffff").localeCompare(y.published || "\uffff")) : k.passages;
              return el(
                "div",
                { class: "claim " + k.label, "data-label": k.label, "data-claim": k.id },
                el(
                  "p",
                  {},
                  badge(k.label),
                  ` in ${k.articles.length} articles, confidence ${k.score.toFixed(2)}`,
                  k.label === "conflict" ? el("span", { class: "disagree" }, ": they disagree on this point") : null,
                  k.first_seen ? el("span", { class: "first-seen" }, `; first published ${when(k.first_seen.published)} by `, name(k.first_seen.doc)) : null
                ),
                el(
                  "ul",
                  {},
                  passages.map((p) => {
                    const first = k.first_seen && k.first_seen.passage === p.passage;
                    return el(
                      "li",
                      { class: [inConflict.has(p.passage) ? "disputed" : "", first ? "first" : ""].join(" ").trim() || null },
                      el(
                        "div",
                        { class: "src" },
                        k.first_seen ? el("span", { class: "when" }, first ? "first · " : k.label === "conflict" ? "disputed · " : "repeated · ", when(p.published) || "undated", " ") : null,
                        name(p.doc),
                        " ",
                        where(p)
                      ),
                      el("div", { class: "text" }, p.text)
                    );
                  })
                )
              );
            })
          : el("p", { class: "muted" }, c.claims.length ? "No claim passes the filter above." : "No passage is shared across articles.")
      );
    }

    // With dates: the claims in the order they first appeared, each with who published
    // it first and who repeated it, and when.
    function timeline() {
      const dated = c.claims
        .filter((k) => k.first_seen && keep(k.label, k.score))
        .sort((x, y) => x.first_seen.published.localeCompare(y.first_seen.published) || x.id - y.id);
      if (!dated.length) return null;
      return el(
        "section",
        { id: "timeline" },
        el("h2", {}, "Who published each claim first"),
        el(
          "ol",
          { class: "timeline" },
          dated.slice(0, 200).map((k) => {
            const first = k.passages.find((p) => p.passage === k.first_seen.passage) || k.passages[0];
            const repeats = k.passages
              .filter((p) => p.doc !== first.doc && p.published)
              .sort((x, y) => x.published.localeCompare(y.published));
            const seen = new Set();
            return el(
              "li",
              { "data-claim": k.id, "data-published": k.first_seen.published },
              el("span", { class: "when" }, when(k.first_seen.published)),
              " ",
              badge(k.label),
              " ",
              name(first.doc),
              el("div", { class: "text" }, first.text),
              repeats.length
                ? el(
                    "div",
                    { class: "muted repeats" },
                    k.label === "conflict" ? "disputed by " : "repeated by ",
                    repeats
                      .filter((p) => !seen.has(p.doc) && seen.add(p.doc))
                      .map((p, i) => [i ? ", " : "", name(p.doc), ` (${when(p.published)})`])
                  )
                : null
            );
          })
        )
      );
    }

    // Boilerplate, apart and collapsed: never a claim, never counted. One row per
    // notice, with the other articles whose boilerplate it pairs with.
    function boilerplateSection() {
      const notices = new Map();
      for (const m of boilerplate) {
        for (const [self, other] of [[m.a, m.b], [m.b, m.a]]) {
          const e = notices.get(self.passage) || { ref: self, with: new Set() };
          e.with.add(other.doc);
          notices.set(self.passage, e);
        }
      }
      const listed = [...notices.values()].sort((x, y) => (x.ref.doc < y.ref.doc ? -1 : x.ref.doc > y.ref.doc ? 1 : x.ref.start - y.ref.start));
      const shownNotices = listed.slice(0, 300);
      return el(
        "section",
        { id: "boilerplate" },
        el(
          "details",
          {},
          el(
            "summary",
            {},
            el("h2", {}, "Boilerplate shared by articles"),
            el("span", { class: "muted" }, ` ${listed.length} ${listed.length === 1 ? "line" : "lines"} (${boilerplate.length} ${boilerplate.length === 1 ? "pair" : "pairs"}), not counted`)
          ),
          el("p", { class: "muted" }, "Notices, disclaimers, bylines and app prompts found in several articles. They are not reporting: they are never claims, never link articles and never count in what two articles share."),
          listed.length
            ? el(
                "div",
                { class: "scroll-x" },
                el(
                  "table",
                  { class: "boilerplate" },
                  el("thead", {}, el("tr", {}, el("th", {}, "article"), el("th", {}, "boilerplate"), el("th", {}, "like boilerplate of"))),
                  el(
                    "tbody",
                    {},
                    shownNotices.map((e) =>
                      el("tr", { "data-passage": e.ref.passage }, el("td", {}, name(e.ref.doc), " ", where(e.ref)), el("td", { class: "text" }, e.ref.text), el("td", {}, names([...e.with].sort(), el("br"))))
                    )
                  )
                )
              )
            : el("p", { class: "muted" }, "No boilerplate is shared."),
          listed.length > shownNotices.length ? el("p", { class: "muted" }, `${listed.length - shownNotices.length} more lines are in clusters.json.`) : null
        )
      );
    }

    // Draws everything from the view and the filter; keeps the open pair and the
    // place on the page.
    function draw() {
      const y = window.scrollY;
      root.replaceChildren(...[summary(), controls(), disagreements(), pairsSection(), perArticle(), heatmap(), clusters(), timeline(), claims(), pairSection, boilerplateSection()].filter(Boolean));
      const top = c.article_pairs[0];
      const [a, b] = state.pair || (top ? [top.a, top.b] : c.articles.length > 1 ? [c.articles[0].id, c.articles[1].id] : [null, null]);
      if (a && b) showPair(a, b, false);
      window.scrollTo(0, y);
    }
    draw();
    window.scrollTo(0, 0);
  }

  return { render, el, marked, inContext, badge, where, counts, reasons, pairTable, when, MEANING };
})();
