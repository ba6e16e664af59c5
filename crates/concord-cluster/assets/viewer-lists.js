// concord viewer, part 3 of 3: every section but the two-article view, each drawn from
// the view and the filter: the summary and label key, the filter bar (labels, lowest
// confidence, export), where the articles disagree, the article pairs, how much of each
// article others share, the heatmap, the clusters, the timeline of first publication,
// the claims and, collapsed, the boilerplate. `ctx` is what viewer.js's render shares.
"use strict";

ConcordViewer.sections = (ctx) => {
  const { el, badge, counts, inContext, where, when, MEANING, COUNTED } = ConcordViewer;
  const { c, view, state, keep, kept, tally, shownPairs, title, plainName, name, byline, names, pairKey, byPair, boilerplate, openButton, exportCsv, exportJson } = ctx;

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
                ctx.draw();
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
            ctx.draw();
          },
        }),
        " ",
        el("output", { id: "min-score-value" }, state.minScore.toFixed(2))
      ),
      el("span", { id: "shown-count", class: "muted", "data-count": shown }, `${shown} passage ${shown === 1 ? "pair" : "pairs"} shown`),
      el("span", { class: "export" }, el("button", { class: "action", id: "export-csv", onclick: exportCsv }, "Export CSV"), " ", el("button", { class: "action", id: "export-json", onclick: exportJson }, "Export JSON"))
    );
  }

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
            onclick: () => ctx.showPair(ra, rb),
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

  return { summary, controls, disagreements, pairsSection, perArticle, heatmap, clusters, timeline, claims, boilerplateSection };
};
