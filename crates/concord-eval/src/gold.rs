//! The labelled development set: stories, each told by several articles, with every
//! cross-article claim pair a careful reader marks (`examples/stories/`, see its
//! README). A folder per story holds the articles and `labels.tsv`
//! (`a, a_text, b, b_text, grade`), where each text is a verbatim span of its article;
//! `heldout.txt` beside the folders names the stories kept out of training.
//!
//! [`score`] measures a set of reported claim pairs against it: per grade, how many
//! labelled pairs were found (a reported pair whose sides overlap both labelled spans)
//! and how many with the right label; the precision of the reported findings; and how
//! many reported pairs link two different stories (the same topic is not the same
//! event).

use anyhow::{bail, ensure, Context, Result};
use concord_text::{read_articles, Article, ReadOptions};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Grades of the labelled pairs, strongest first.
pub const GRADES: [&str; 5] = ["duplicate", "overlap", "conflict", "agree", "boilerplate"];

/// One story: its folder, whether it is held out, and its articles.
#[derive(Debug, Clone)]
pub struct Story {
    pub id: String,
    pub dir: PathBuf,
    pub heldout: bool,
    pub articles: Vec<Article>,
}

/// One labelled pair: character spans of two articles of a story, and its grade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldPair {
    pub story: String,
    pub a: String,
    pub a_span: (usize, usize),
    pub b: String,
    pub b_span: (usize, usize),
    pub grade: &'static str,
}

/// Which stories a command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Heldout,
    All,
}

impl Split {
    pub fn includes(self, story: &Story) -> bool {
        match self {
            Split::Train => !story.heldout,
            Split::Heldout => story.heldout,
            Split::All => true,
        }
    }
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "train" => Ok(Split::Train),
            "heldout" => Ok(Split::Heldout),
            "all" => Ok(Split::All),
            _ => Err(format!(
                "unknown split {s:?} (expected train, heldout or all)"
            )),
        }
    }
}

/// The stories under `root` and their labelled pairs, every span located in the text
/// concord reads for its article.
pub fn read_gold(root: &Path) -> Result<(Vec<Story>, Vec<GoldPair>)> {
    let heldout_file = root.join("heldout.txt");
    let heldout: Vec<String> = std::fs::read_to_string(&heldout_file)
        .with_context(|| format!("reading {}", heldout_file.display()))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .with_context(|| format!("reading {}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("labels.tsv").is_file())
        .collect();
    dirs.sort();
    ensure!(
        !dirs.is_empty(),
        "{}: no story folders with a labels.tsv",
        root.display()
    );
    let mut stories = Vec::new();
    let mut pairs = Vec::new();
    for dir in dirs {
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut articles = Vec::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        files.sort();
        for f in files {
            articles.extend(read_articles(&f, &ReadOptions::default())?);
        }
        let labels = dir.join("labels.tsv");
        let text = std::fs::read_to_string(&labels)
            .with_context(|| format!("reading {}", labels.display()))?;
        let by_id: HashMap<&str, &Article> = articles.iter().map(|a| (a.id.as_str(), a)).collect();
        for (i, line) in text.lines().enumerate() {
            if i == 0 {
                ensure!(
                    line == "a\ta_text\tb\tb_text\tgrade",
                    "{}: header must be a, a_text, b, b_text, grade",
                    labels.display()
                );
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let at = || format!("{}:{}", labels.display(), i + 1);
            let f: Vec<&str> = line.split('\t').collect();
            ensure!(f.len() == 5, "{}: {} fields, expected 5", at(), f.len());
            let grade = GRADES
                .into_iter()
                .find(|g| *g == f[4].trim())
                .with_context(|| format!("{}: unknown grade {:?}", at(), f[4]))?;
            let locate = |article: &str, quote: &str| -> Result<(usize, usize)> {
                let a = by_id.get(article).with_context(|| {
                    format!("{}: no article {article:?} in {}", at(), dir.display())
                })?;
                let Some(byte) = a.text.find(quote) else {
                    bail!("{}: {quote:?} is not in {article}", at());
                };
                let start = a.text[..byte].chars().count();
                Ok((start, start + quote.chars().count()))
            };
            pairs.push(GoldPair {
                story: id.clone(),
                a: f[0].to_string(),
                a_span: locate(f[0], f[1])?,
                b: f[2].to_string(),
                b_span: locate(f[2], f[3])?,
                grade,
            });
        }
        stories.push(Story {
            heldout: heldout.contains(&id),
            id,
            dir,
            articles,
        });
    }
    for h in &heldout {
        ensure!(
            stories.iter().any(|s| &s.id == h),
            "{}: no story {h:?}",
            heldout_file.display()
        );
    }
    Ok((stories, pairs))
}

/// Whether a passage `[start, end)` stands for the labelled span: they share at least
/// half of the shorter of the two.
pub fn covers(passage: (usize, usize), span: (usize, usize)) -> bool {
    let inter = passage.1.min(span.1).saturating_sub(passage.0.max(span.0));
    let shorter = (passage.1 - passage.0).min(span.1 - span.0).max(1);
    inter * 2 >= shorter
}

/// One reported claim pair, as offsets into two articles.
#[derive(Debug, Clone)]
pub struct Reported {
    pub a: String,
    pub a_span: (usize, usize),
    pub b: String,
    pub b_span: (usize, usize),
    pub label: String,
}

/// The strongest labelled grade a pair of passages stands for, if any.
pub fn grade_of<'g>(
    gold: &'g [GoldPair],
    a: &str,
    a_span: (usize, usize),
    b: &str,
    b_span: (usize, usize),
) -> Option<&'g GoldPair> {
    gold.iter()
        .filter(|g| {
            (g.a == a && g.b == b && covers(a_span, g.a_span) && covers(b_span, g.b_span))
                || (g.a == b && g.b == a && covers(b_span, g.a_span) && covers(a_span, g.b_span))
        })
        .min_by_key(|g| GRADES.iter().position(|x| *x == g.grade))
}

/// Found and labelled pairs of one grade.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GradeScore {
    pub labelled: usize,
    /// Labelled pairs some reported pair stands for.
    pub found: usize,
    /// ... reported with the grade's own label.
    pub right_label: usize,
}

/// What [`score`] measures.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GoldScore {
    pub grades: BTreeMap<String, GradeScore>,
    /// Reported findings (not boilerplate) with a side in the stories measured.
    pub reported: usize,
    /// ... that stand for a labelled finding.
    pub correct: usize,
    /// ... that link two different stories.
    pub cross_story: usize,
    /// Reported pairs of two different stories that share a topic (`topic` file).
    pub same_topic_cross: usize,
    /// Per label the output gave a finding: how many it gave, and how many of those
    /// stand for a labelled pair of that very grade (the label's own precision).
    pub labels: BTreeMap<String, LabelScore>,
}

/// Findings reported with one label, and those whose labelled grade is that label.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LabelScore {
    pub reported: usize,
    pub right: usize,
}

impl GoldScore {
    pub fn precision(&self) -> f64 {
        if self.reported == 0 {
            return 1.0;
        }
        self.correct as f64 / self.reported as f64
    }
}

/// Scores `reported` against the labelled pairs of the `measured` stories (all of
/// `stories` were in the collection). `topic` gives a story's topic where two stories
/// share one (same topic, other events).
pub fn score(
    stories: &[Story],
    measured: &[&str],
    gold: &[GoldPair],
    reported: &[Reported],
    topic: &dyn Fn(&str) -> Option<String>,
) -> GoldScore {
    let story_of: HashMap<&str, &str> = stories
        .iter()
        .flat_map(|s| {
            s.articles
                .iter()
                .map(move |a| (a.id.as_str(), s.id.as_str()))
        })
        .collect();
    let gold: Vec<&GoldPair> = gold
        .iter()
        .filter(|g| measured.contains(&g.story.as_str()))
        .collect();
    let mut out = GoldScore::default();
    for grade in GRADES {
        out.grades.insert(grade.to_string(), GradeScore::default());
    }
    for g in &gold {
        let stands = |r: &Reported| {
            (r.a == g.a && r.b == g.b && covers(r.a_span, g.a_span) && covers(r.b_span, g.b_span))
                || (r.a == g.b
                    && r.b == g.a
                    && covers(r.b_span, g.a_span)
                    && covers(r.a_span, g.b_span))
        };
        let is_boilerplate = |r: &&Reported| r.label == "boilerplate";
        let candidates: Vec<&Reported> = reported
            .iter()
            .filter(|r| (g.grade == "boilerplate") == is_boilerplate(r))
            .filter(|r| stands(r))
            .collect();
        let e = out.grades.get_mut(g.grade).expect("every grade inserted");
        e.labelled += 1;
        if !candidates.is_empty() {
            e.found += 1;
        }
        if candidates.iter().any(|r| r.label == g.grade) {
            e.right_label += 1;
        }
    }
    let owned: Vec<GoldPair> = gold.iter().map(|g| (*g).clone()).collect();
    for r in reported.iter().filter(|r| r.label != "boilerplate") {
        let (sa, sb) = (story_of.get(r.a.as_str()), story_of.get(r.b.as_str()));
        let ours = |s: Option<&&str>| s.is_some_and(|s| measured.contains(s));
        if !ours(sa) && !ours(sb) {
            continue;
        }
        out.reported += 1;
        if sa != sb {
            out.cross_story += 1;
            let ta = sa.and_then(|s| topic(s));
            if ta.is_some() && ta == sb.and_then(|s| topic(s)) {
                out.same_topic_cross += 1;
            }
            continue;
        }
        let grade = grade_of(&owned, &r.a, r.a_span, &r.b, r.b_span).map(|g| g.grade);
        if grade.is_some_and(|g| g != "boilerplate") {
            out.correct += 1;
        }
        let l = out.labels.entry(r.label.clone()).or_default();
        l.reported += 1;
        if grade == Some(r.label.as_str()) {
            l.right += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passage_stands_for_a_span_it_mostly_covers() {
        assert!(covers((10, 30), (12, 28)));
        assert!(covers((10, 20), (0, 40)), "a clause of a labelled sentence");
        assert!(!covers((10, 20), (19, 40)), "one shared character");
    }

    #[test]
    fn reads_and_scores_a_story() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().join("s01-x");
        std::fs::create_dir(&s).unwrap();
        std::fs::write(
            s.join("s01-a.md"),
            "# A\n\n港口週一啟用，首日載客三千人。市長出席。\n",
        )
        .unwrap();
        std::fs::write(
            s.join("s01-b.md"),
            "# B\n\n新航線首日載客三千人。市長未出席。\n",
        )
        .unwrap();
        std::fs::write(
            s.join("labels.tsv"),
            "a\ta_text\tb\tb_text\tgrade\ns01-a\t首日載客三千人。\ts01-b\t新航線首日載客三千人。\toverlap\ns01-a\t市長出席。\ts01-b\t市長未出席。\tconflict\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("heldout.txt"), "s01-x\n").unwrap();
        let (stories, gold) = read_gold(dir.path()).unwrap();
        assert!(stories[0].heldout);
        assert_eq!(gold.len(), 2);
        let (a0, a1) = gold[0].a_span;
        assert_eq!(a1 - a0, "首日載客三千人。".chars().count());
        let reported = vec![Reported {
            a: "s01-b".into(),
            a_span: gold[0].b_span,
            b: "s01-a".into(),
            b_span: gold[0].a_span,
            label: "overlap".into(),
        }];
        let sc = score(&stories, &["s01-x"], &gold, &reported, &|_| None);
        assert_eq!(sc.grades["overlap"].found, 1);
        assert_eq!(sc.grades["overlap"].right_label, 1);
        assert_eq!(sc.grades["conflict"].found, 0);
        assert_eq!((sc.reported, sc.correct), (1, 1));
        std::fs::write(
            s.join("labels.tsv"),
            "a\ta_text\tb\tb_text\tgrade\ns01-a\t不在文中\ts01-b\t市長未出席。\tconflict\n",
        )
        .unwrap();
        let e = read_gold(dir.path()).unwrap_err();
        assert!(e.to_string().contains("is not in s01-a"), "{e}");
    }
}
