// concord viewer: renders a clustering view (the JSON of concord_cluster::report::View):
// the article pairs that share the most, the heatmap, the clusters, the cross-article
// claims, and any two articles side by side with their shared text highlighted.
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
    for (const c of children.flat()) {
      if (c === undefined || c === null) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  // `text` with the character ranges `spans` ([{start, end}], in code points) marked.
  function marked(text, spans) {
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
      out.append(on[i] ? el("mark", {}, piece) : piece);
      i = j;
    }
    return out;
  }

  function badge(label) {
    return el("span", { class: "label " + label }, label);
  }

  // Rows of passage pairs, side by side: `a` left, `b` right, shared text marked.
  function pairTable(pairs, headA, headB) {
    const body = pairs.map((m) =>
      el(
        "tr",
        { class: "pair-row" },
        el("td", { class: "side-a" }, el("div", { class: "muted" }, m.a.passage), marked(m.a.text, m.evidence.shared.map((s) => s.a))),
        el("td", { class: "mid" }, badge(m.label), el("div", { class: "muted" }, m.score.toFixed(2))),
        el("td", { class: "side-b" }, el("div", { class: "muted" }, m.b.passage), marked(m.b.text, m.evidence.shared.map((s) => s.b)))
      )
    );
    return el("table", { class: "pairs" }, el("thead", {}, el("tr", {}, el("th", {}, headA), el("th", {}, ""), el("th", {}, headB))), el("tbody", {}, body));
  }

  function render(root, view) {
    const c = view.clustering;
    const articles = new Map(c.articles.map((a) => [a.id, a]));
    const name = (id) => {
      const a = articles.get(id);
      return a && a.title ? `${a.title} (${id})` : id;
    };
    const pairKey = (a, b) => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);
    const byPair = new Map(c.article_pairs.map((p) => [pairKey(p.a, p.b), p]));
    root.replaceChildren();

    // The pair view comes first in the code so the other sections can open it.
    const selA = el("select", { id: "pair-a" }, c.articles.map((a) => el("option", { value: a.id }, name(a.id))));
    const selB = el("select", { id: "pair-b" }, c.articles.map((a) => el("option", { value: a.id }, name(a.id))));
    const pairOut = el("div", { id: "pair-view" });
    const pairSection = el("section", { id: "pair" }, el("h2", {}, "Two articles side by side"), el("p", {}, selA, " and ", selB), pairOut);
    function showPair(a, b) {
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
        el("p", { class: "summary" }, `${p.duplicate} duplicate, ${p.overlap} overlap, ${p.agree} agree; shared ${p.shared.toFixed(2)}`),
        pairTable(rows, name(a), name(b))
      );
      pairSection.scrollIntoView({ block: "start" });
    }
    selA.addEventListener("change", () => showPair(selA.value, selB.value));
    selB.addEventListener("change", () => showPair(selA.value, selB.value));

    // Summary and the article pairs that share the most.
    const top = c.article_pairs[0];
    const summary = el(
      "section",
      { id: "summary" },
      el("p", {}, `${c.articles.length} articles, ${c.clusters.length} clusters, ${c.claims.length} cross-article claims, ${c.article_pairs.length} article pairs sharing passages at ${c.min_label} or above.`),
      top
        ? el("p", { id: "top-pair" }, "Shares the most: ", el("strong", {}, name(top.a)), " and ", el("strong", {}, name(top.b)), ` (${top.duplicate} duplicate, ${top.overlap} overlap, ${top.agree} agree).`)
        : el("p", { id: "top-pair" }, "No two articles share a passage.")
    );
    const pairsTable = el(
      "table",
      { id: "article-pairs" },
      el("thead", {}, el("tr", {}, ["shared", "duplicate", "overlap", "agree", "articles", ""].map((h) => el("th", {}, h)))),
      el(
        "tbody",
        {},
        c.article_pairs.slice(0, 50).map((p) =>
          el(
            "tr",
            {},
            el("td", {}, p.shared.toFixed(2)),
            el("td", {}, p.duplicate),
            el("td", {}, p.overlap),
            el("td", {}, p.agree),
            el("td", {}, name(p.a), " / ", name(p.b)),
            el("td", {}, el("button", { class: "action open-pair", onclick: () => showPair(p.a, p.b) }, "side by side"))
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
        map.append(
          el("button", {
            class: "cell",
            "data-a": ra,
            "data-b": rb,
            title: `${i + 1} × ${j + 1}: ${name(ra)} / ${name(rb)}, shared ${v.toFixed(2)}`,
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
      el("p", { class: "muted" }, "Darker cells share more; click a cell to see the two articles side by side." + (h.omitted ? ` ${h.omitted} articles sharing the least are left out.` : "")),
      map,
      key
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
              el("li", { class: "cluster" }, k.articles.map(name).join(" · "), el("div", { class: "muted" }, `shared ${k.shared.toFixed(2)}, ${k.claims.length} claims carried by two or more of them`))
            )
          )
        : el("p", { class: "muted" }, "No articles share enough to form a cluster.")
    );

    const claims = el(
      "section",
      { id: "claims" },
      el("h2", {}, "Claims carried by several articles"),
      c.claims.length
        ? c.claims.slice(0, 200).map((k) =>
            el(
              "div",
              { class: "claim" },
              el("p", {}, badge(k.label), ` in ${k.articles.length} articles: `, k.articles.map(name).join(" · ")),
              el("ul", {}, k.passages.map((p) => el("li", {}, el("span", { class: "muted" }, p.passage + " "), p.text)))
            )
          )
        : el("p", { class: "muted" }, "No passage is shared across articles.")
    );

    root.append(summary, el("section", {}, el("h2", {}, "Article pairs that share the most"), pairsTable), heat, clusters, claims, pairSection);
    if (top) showPair(top.a, top.b);
    else if (c.articles.length > 1) showPair(c.articles[0].id, c.articles[1].id);
    window.scrollTo(0, 0);
  }

  return { render, el, marked, badge, pairTable };
})();
