// concord viewer: renders a clustering view (the JSON of concord_cluster::report::View):
// where the articles disagree, the article pairs that share the most, the heatmap, the
// clusters, the cross-article claims, any two articles side by side (each claim shown
// in its paragraph, the claim and the text both sides share marked) and, apart, the
// boilerplate the articles share. Articles are named by their title when they have one.
// Used inline by report.html and served by `concord serve` for its page at `/`.
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

  function render(root, view) {
    const c = view.clustering;
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
    const names = (ids, sep) => ids.map((id, i) => [i ? (sep instanceof Node ? sep.cloneNode(true) : sep || " · ") : "", name(id)]);
    const pairKey = (a, b) => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);
    const byPair = new Map(c.article_pairs.map((p) => [pairKey(p.a, p.b), p]));
    const boilerplate = c.boilerplate || [];
    root.replaceChildren();

    // The pair view comes first in the code so the other sections can open it.
    const selA = el("select", { id: "pair-a" }, c.articles.map((a) => el("option", { value: a.id }, plainName(a.id))));
    const selB = el("select", { id: "pair-b" }, c.articles.map((a) => el("option", { value: a.id }, plainName(a.id))));
    const pairOut = el("div", { id: "pair-view" });
    const pairSection = el("section", { id: "pair" }, el("h2", {}, "Two articles side by side"), el("p", {}, selA, " and ", selB), pairOut);
    function showPair(a, b, scroll = true) {
      selA.value = a;
      selB.value = b;
      pairOut.replaceChildren();
      if (a === b) {
        pairOut.append(el("p", { class: "muted" }, "Choose two different articles."));
        return;
      }
      const p = byPair.get(pairKey(a, b));
      if (!p || p.aligned.length === 0) {
        pairOut.append(el("p", { class: "empty" }, `These articles share no passage at ${c.min_label} or above.`));
        return;
      }
      const flip = p.a !== a;
      const rows = p.aligned.map((m) => (flip ? { ...m, a: m.b, b: m.a, evidence: { ...m.evidence, shared: m.evidence.shared.map((s) => ({ a: s.b, b: s.a })) } } : m));
      if (flip) rows.sort((x, y) => x.a.start - y.a.start);
      pairOut.append(
        el(
          "p",
          { class: "summary" },
          counts(p),
          `; shared ${p.shared.toFixed(2)}.`,
          p.conflict ? el("strong", { class: "disagree" }, ` These two articles disagree on ${p.conflict === 1 ? "one point" : `${p.conflict} points`}.`) : null
        ),
        el("p", { class: "muted" }, "Each claim is shown in its paragraph; the claim is highlighted and the text both sides share is marked inside it."),
        pairTable(rows, name(a), name(b))
      );
      if (scroll) pairSection.scrollIntoView({ block: "start" });
    }
    selA.addEventListener("change", () => showPair(selA.value, selB.value));
    selB.addEventListener("change", () => showPair(selA.value, selB.value));
    const openButton = (a, b, text) => el("button", { class: "action open-pair", "data-a": a, "data-b": b, onclick: () => showPair(a, b) }, text || "side by side");

    // Summary, what the labels mean and the article pairs that share the most.
    const top = c.article_pairs[0];
    const disputed = c.claims.filter((k) => k.conflicts && k.conflicts.length);
    const legend = el(
      "dl",
      { class: "legend" },
      [...COUNTED, "boilerplate"].map((l) => [el("dt", {}, badge(l)), el("dd", {}, MEANING[l])])
    );
    const summary = el(
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

    // The points on which articles disagree, each conflicting pair of claims side by side.
    const claimRef = (k, id) => k.passages.find((p) => p.passage === id);
    const disagreements = el(
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
        : el("p", { class: "muted" }, "No two articles contradict each other on a claim.")
    );

    const pairsTable = el(
      "table",
      { id: "article-pairs" },
      el("thead", {}, el("tr", {}, el("th", {}, "shared"), COUNTED.map((l) => el("th", {}, badge(l))), el("th", {}, "articles"), el("th", {}, ""))),
      el(
        "tbody",
        {},
        c.article_pairs.slice(0, 50).map((p) =>
          el(
            "tr",
            { class: p.conflict ? "disputed" : null },
            el("td", {}, p.shared.toFixed(2)),
            COUNTED.map((l) => el("td", { class: "count " + l }, p[l])),
            el("td", { class: "names" }, el("div", {}, name(p.a)), el("div", {}, name(p.b))),
            el("td", {}, openButton(p.a, p.b))
          )
        )
      )
    );

    // Heatmap: the SVG drawn in Rust, with a transparent button over each cell.
    const h = view.heatmap;
    const map = el("div", { class: "heatmap", id: "heatmap" });
    map.innerHTML = h.svg;
    h.order.forEach((ra, i) =>
      h.order.forEach((rb, j) => {
        if (i === j) return;
        const v = h.values[i][j];
        const n = h.conflicts ? h.conflicts[i][j] : 0;
        map.append(
          el("button", {
            class: "cell",
            "data-a": ra,
            "data-b": rb,
            title: `${i + 1} × ${j + 1}: ${plainName(ra)} / ${plainName(rb)}, shared ${v.toFixed(2)}` + (n ? `; they disagree on ${n === 1 ? "one point" : `${n} points`}` : ""),
            style: `left:${h.x0 + j * h.cell}px;top:${h.y0 + i * h.cell}px;width:${h.cell - 1}px;height:${h.cell - 1}px`,
            onclick: () => showPair(ra, rb),
          })
        );
      })
    );
    const key = el("ol", { class: "key" }, h.order.map((id) => el("li", {}, name(id))));
    const heat = el(
      "section",
      { id: "map" },
      el("h2", {}, "What article pairs share"),
      el(
        "p",
        { class: "muted" },
        "Darker cells share more; a red corner marks two articles that disagree on some point. Rows and columns are numbered as in the list; click a cell to see the two articles side by side." +
          (h.omitted ? ` ${h.omitted} articles sharing the least are left out.` : "")
      ),
      el("div", { class: "map-wrap" }, map, key)
    );

    const clusters = el(
      "section",
      { id: "clusters" },
      el("h2", {}, "Articles telling the same story"),
      c.clusters.length
        ? el(
            "ol",
            {},
            c.clusters.map((k) =>
              el("li", { class: "cluster" }, el("ul", {}, k.articles.map((id) => el("li", {}, name(id)))), el("div", { class: "muted" }, `shared ${k.shared.toFixed(2)}, ${k.claims.length} claims carried by two or more of them`))
            )
          )
        : el("p", { class: "muted" }, "No articles share enough to form a cluster.")
    );

    const claims = el(
      "section",
      { id: "claims" },
      el("h2", {}, "Claims carried by several articles"),
      c.claims.length
        ? c.claims.slice(0, 200).map((k) => {
            const inConflict = new Set((k.conflicts || []).flat());
            return el(
              "div",
              { class: "claim " + k.label, "data-label": k.label },
              el(
                "p",
                {},
                badge(k.label),
                ` in ${k.articles.length} articles`,
                k.label === "conflict" ? el("span", { class: "disagree" }, ": they disagree on this point") : null
              ),
              el(
                "ul",
                {},
                k.passages.map((p) =>
                  el(
                    "li",
                    { class: inConflict.has(p.passage) ? "disputed" : null },
                    el("div", { class: "src" }, name(p.doc), " ", where(p)),
                    el("div", { class: "text" }, p.text)
                  )
                )
              )
            );
          })
        : el("p", { class: "muted" }, "No passage is shared across articles.")
    );

    // Boilerplate, apart and collapsed: never a claim, never counted. One row per
    // notice, with the other articles whose boilerplate it pairs with.
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
    const boilerplateSection = el(
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
              "table",
              { class: "boilerplate" },
              el("thead", {}, el("tr", {}, el("th", {}, "article"), el("th", {}, "boilerplate"), el("th", {}, "like boilerplate of"))),
              el(
                "tbody",
                {},
                shownNotices.map((e) =>
                  el(
                    "tr",
                    { "data-passage": e.ref.passage },
                    el("td", {}, name(e.ref.doc), " ", where(e.ref)),
                    el("td", { class: "text" }, e.ref.text),
                    el("td", {}, names([...e.with].sort(), el("br")))
                  )
                )
              )
            )
          : el("p", { class: "muted" }, "No boilerplate is shared."),
        listed.length > shownNotices.length ? el("p", { class: "muted" }, `${listed.length - shownNotices.length} more lines are in clusters.json.`) : null
      )
    );

    root.append(
      summary,
      disagreements,
      el("section", { id: "pairs" }, el("h2", {}, "Article pairs that share the most"), pairsTable),
      heat,
      clusters,
      claims,
      pairSection,
      boilerplateSection
    );
    if (top) showPair(top.a, top.b, false);
    else if (c.articles.length > 1) showPair(c.articles[0].id, c.articles[1].id, false);
    window.scrollTo(0, 0);
  }

  return { render, el, marked, inContext, badge, where, counts, reasons, pairTable, MEANING };
})();
