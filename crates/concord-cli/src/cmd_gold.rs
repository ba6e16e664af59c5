//! `concord eval gold DIR`: the default output of the overlap engine measured against
//! the labelled development stories (precision, and recall per grade), and
//! `concord eval judge-features DIR`: the pair judge's training rows (every candidate
//! pair of the training stories with its signals and its labelled grade, plus labelled
//! text pairs from PAWS-X and STS-B), as CSV for `scripts/train-judge.py`.

use crate::cmd_model::{load_embedder, load_judging_embedder, ModelChoice};
use anyhow::{Context, Result};
use clap::Args;
use concord_embed::Embedder;
use concord_eval::gold::{
    grade_of, read_gold, score, GoldPair, GoldScore, Reported, Split, Story, GRADES,
};
use concord_eval::{read_pairs, LabelKind};
use concord_index::{Collection, IndexParams};
use concord_ingest::{ingest, model_stamp, IngestOptions};
use concord_overlap::{
    judge_text_pairs, Label, OverlapIndex, PairMatch, QueryOptions, Verdict, FEATURES,
};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct GoldArgs {
    /// The stories folder (a folder per story with labels.tsv, and heldout.txt).
    #[arg(default_value = "examples/stories")]
    dir: PathBuf,
    /// Which stories to measure: heldout, train or all.
    #[arg(long, default_value = "heldout")]
    split: Split,
    /// Print the scores as JSON.
    #[arg(long)]
    json: bool,
    /// Also list the labelled pairs missed and the reported pairs that are wrong.
    #[arg(long)]
    errors: bool,
    /// Report every candidate pair, whatever the judge says: the recall the candidate
    /// stage allows (a diagnostic, not the engine's output).
    #[arg(long)]
    ceiling: bool,
}

#[derive(Args)]
pub struct FeatureArgs {
    /// The stories folder.
    #[arg(default_value = "examples/stories")]
    dir: PathBuf,
    /// Whose candidate pairs to write: the training stories unless told otherwise.
    #[arg(long, default_value = "train")]
    split: Split,
    /// Binary paraphrase sets (text1, text2, label): 1 is written as `overlap`, 0 as `none`.
    #[arg(long)]
    paws: Vec<PathBuf>,
    /// Graded sets (text1, text2, score 0-5): 4.6 and up is `overlap`, 3.6 to 4.6
    /// `agree`, 2 and below `none`; the rest is left out as ambiguous.
    #[arg(long)]
    sts: Vec<PathBuf>,
    /// Pairs read from each PAWS or STS file at most.
    #[arg(long, default_value_t = 3000)]
    limit: usize,
    /// Also writes the two texts of every story row to this file, a line each in row
    /// order (`story<TAB>text_a<TAB>text_b`), for judge experiments that need the texts.
    #[arg(long)]
    texts: Option<PathBuf>,
}

/// The stories of `split` (and, as distractors, every other story) in one scratch
/// collection in memory.
fn ingest_stories(embedder: &Embedder, stories: &[Story]) -> Result<Collection> {
    let mut c = Collection::in_memory(&model_stamp(embedder)?, IndexParams::default());
    let articles: Vec<_> = stories
        .iter()
        .flat_map(|s| s.articles.iter().cloned())
        .collect();
    ingest(
        embedder,
        &mut c,
        &articles,
        &IngestOptions::default(),
        &mut |_| {},
    )?;
    Ok(c)
}

fn reported(m: &PairMatch) -> Reported {
    Reported {
        a: m.a.doc.clone(),
        a_span: (m.a.start as usize, m.a.end as usize),
        b: m.b.doc.clone(),
        b_span: (m.b.start as usize, m.b.end as usize),
        label: m.label.as_str().to_string(),
    }
}

/// Stories sharing a topic: those whose `topic` line (the story folder's `TOPIC` file) is the same.
fn topic_of(stories: &[Story]) -> impl Fn(&str) -> Option<String> + '_ {
    move |id: &str| {
        let s = stories.iter().find(|s| s.id == id)?;
        std::fs::read_to_string(s.dir.join("TOPIC"))
            .ok()
            .map(|t| t.trim().to_string())
    }
}

pub fn run_gold(args: GoldArgs, model: &ModelChoice) -> Result<()> {
    let embedder = load_judging_embedder(model)?;
    let (stories, gold) = read_gold(&args.dir)?;
    let c = ingest_stories(&embedder, &stories)?;
    let index = OverlapIndex::new(&c, crate::cmd_model::names());
    let opts = QueryOptions {
        boilerplate: true,
        ..Default::default()
    };
    let pairs: Vec<Reported> = if args.ceiling {
        index
            .candidate_verdicts(&opts)
            .into_iter()
            .map(|(a, b, v)| {
                let side = |s: usize| {
                    let p = c.passage(s).expect("candidates are live");
                    (
                        p.doc.clone(),
                        (p.passage.start as usize, p.passage.end as usize),
                    )
                };
                let ((da, sa), (db, sb)) = (side(a), side(b));
                let label = match v.label {
                    Some(Label::Boilerplate) => "boilerplate",
                    _ => "candidate",
                };
                Reported {
                    a: da,
                    a_span: sa,
                    b: db,
                    b_span: sb,
                    label: label.to_string(),
                }
            })
            .collect()
    } else {
        index.all_pairs(None, &opts).iter().map(reported).collect()
    };
    let measured: Vec<&Story> = stories.iter().filter(|s| args.split.includes(s)).collect();
    let ids: Vec<&str> = measured.iter().map(|s| s.id.as_str()).collect();
    let sc = score(&stories, &ids, &gold, &pairs, &topic_of(&stories));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&sc)?);
    } else {
        print_score(&sc, &measured, &gold);
    }
    if args.errors {
        print_errors(&stories, &measured, &gold, &pairs);
    }
    Ok(())
}

fn print_score(sc: &GoldScore, measured: &[&Story], gold: &[GoldPair]) {
    let names: Vec<&str> = measured.iter().map(|s| s.id.as_str()).collect();
    let labelled = gold
        .iter()
        .filter(|g| names.contains(&g.story.as_str()))
        .count();
    println!(
        "stories: {} ({labelled} labelled pairs, {} articles)",
        names.join(", "),
        measured.iter().map(|s| s.articles.len()).sum::<usize>()
    );
    println!("| grade | labelled | found | recall | right label |");
    println!("|---|---|---|---|---|");
    for g in GRADES {
        let e = &sc.grades[g];
        let pct = |n: usize| {
            if e.labelled == 0 {
                "-".to_string()
            } else {
                format!("{:.0}%", 100.0 * n as f64 / e.labelled as f64)
            }
        };
        println!(
            "| {g} | {} | {} | {} | {} |",
            e.labelled,
            e.found,
            pct(e.found),
            pct(e.right_label)
        );
    }
    println!(
        "reported findings: {}, correct {} (precision {:.2}), linking two stories {} (of them same topic, other event: {})",
        sc.reported,
        sc.correct,
        sc.precision(),
        sc.cross_story,
        sc.same_topic_cross
    );
    let given: Vec<String> = ["duplicate", "overlap", "conflict", "agree"]
        .iter()
        .filter_map(|l| {
            let x = sc.labels.get(*l)?;
            Some(format!(
                "{l} {} of {} ({:.0}%)",
                x.right,
                x.reported,
                100.0 * x.right as f64 / x.reported.max(1) as f64
            ))
        })
        .collect();
    println!(
        "findings whose label is their labelled grade: {}",
        given.join(", ")
    );
}

fn print_errors(all: &[Story], measured: &[&Story], gold: &[GoldPair], pairs: &[Reported]) {
    let names: Vec<&str> = measured.iter().map(|s| s.id.as_str()).collect();
    // A wrong pair may reach into a story outside the measured ones: show its text too.
    let text = |doc: &str, span: (usize, usize)| -> String {
        all.iter()
            .flat_map(|s| &s.articles)
            .find(|a| a.id == doc)
            .map(|a| a.text.chars().skip(span.0).take(span.1 - span.0).collect())
            .unwrap_or_default()
    };
    for g in gold.iter().filter(|g| names.contains(&g.story.as_str())) {
        let found = pairs
            .iter()
            .any(|r| grade_of(std::slice::from_ref(g), &r.a, r.a_span, &r.b, r.b_span).is_some());
        if !found {
            println!(
                "missed {}: {} <> {}",
                g.grade,
                text(&g.a, g.a_span),
                text(&g.b, g.b_span)
            );
        }
    }
    let ours = |doc: &str| {
        measured
            .iter()
            .flat_map(|s| &s.articles)
            .any(|a| a.id == doc)
    };
    for r in pairs.iter().filter(|r| r.label != "boilerplate") {
        if grade_of(gold, &r.a, r.a_span, &r.b, r.b_span).is_none() && (ours(&r.a) || ours(&r.b)) {
            println!(
                "wrong {}: {} <> {}",
                r.label,
                text(&r.a, r.a_span),
                text(&r.b, r.b_span)
            );
        }
    }
}

pub fn run_features(args: FeatureArgs, model: &ModelChoice) -> Result<()> {
    let embedder = load_embedder(model)?;
    let (stories, gold) = read_gold(&args.dir)?;
    let chosen: Vec<Story> = stories
        .into_iter()
        .filter(|s| args.split.includes(s))
        .collect();
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    writeln!(out, "source,grade,rule,{}", FEATURES.join(","))?;
    // `source` is the story of a candidate's first side, or the pair set's file.
    let row = |out: &mut dyn Write, source: &str, grade: &str, v: &Verdict| -> Result<()> {
        let rule = match v.label {
            Some(Label::Boilerplate) => "boilerplate",
            Some(Label::Duplicate) if v.evidence.probabilities.is_none() => "duplicate",
            _ => "",
        };
        let xs: Vec<String> = v.features.iter().map(|x| format!("{x:.5}")).collect();
        writeln!(out, "{source},{grade},{rule},{}", xs.join(","))?;
        Ok(())
    };
    // Every candidate pair of the chosen stories, labelled from the gold pairs.
    let c = ingest_stories(&embedder, &chosen)?;
    let index = OverlapIndex::new(&c, crate::cmd_model::names());
    let mut texts = match &args.texts {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => None,
    };
    let flat = |t: &str| t.replace(['\t', '\n', '\r'], " ");
    for (a, b, v) in index.candidate_verdicts(&QueryOptions::default()) {
        let (pa, pb) = (c.passage(a).context("live")?, c.passage(b).context("live")?);
        let span =
            |p: &concord_index::StoredPassage| (p.passage.start as usize, p.passage.end as usize);
        let grade =
            grade_of(&gold, &pa.doc, span(pa), &pb.doc, span(pb)).map_or("none", |g| g.grade);
        let story = chosen
            .iter()
            .find(|s| s.articles.iter().any(|x| x.id == pa.doc))
            .map_or("?", |s| s.id.as_str());
        row(&mut out, &format!("story:{story}"), grade, &v)?;
        if let Some(t) = texts.as_mut() {
            let (ta, tb) = (flat(&pa.passage.text), flat(&pb.passage.text));
            writeln!(t, "{story}\t{ta}\t{tb}")?;
        }
    }
    if let Some(mut t) = texts {
        t.flush()?;
    }
    for (files, kind) in [(&args.paws, "paws"), (&args.sts, "sts")] {
        for f in files {
            write_pair_rows(&embedder, f, kind, args.limit, &mut out, &row)?;
        }
    }
    out.flush()?;
    Ok(())
}

type RowFn<'a> = dyn Fn(&mut dyn Write, &str, &str, &Verdict) -> Result<()> + 'a;

fn write_pair_rows(
    embedder: &Embedder,
    file: &Path,
    kind: &str,
    limit: usize,
    out: &mut dyn Write,
    row: &RowFn,
) -> Result<()> {
    let set = read_pairs(file)?;
    let graded: Vec<(&str, &str, &str)> = set
        .pairs
        .iter()
        .filter(|p| p.0 != p.1)
        .filter_map(|(a, b, y)| {
            let grade = match set.kind {
                LabelKind::Binary if *y >= 0.5 => "overlap",
                LabelKind::Binary => "none",
                LabelKind::Score if *y >= 4.6 => "overlap",
                LabelKind::Score if *y >= 3.6 => "agree",
                LabelKind::Score if *y <= 2.0 => "none",
                LabelKind::Score => return None,
            };
            Some((a.as_str(), b.as_str(), grade))
        })
        .take(limit)
        .collect();
    let pairs: Vec<(&str, &str)> = graded.iter().map(|p| (p.0, p.1)).collect();
    let verdicts = judge_text_pairs(embedder, &pairs, crate::cmd_model::names())?;
    let source = format!(
        "{kind}:{}",
        file.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    );
    for (p, v) in graded.iter().zip(&verdicts) {
        row(out, &source, p.2, v)?;
    }
    Ok(())
}
