//! Tests of `score`.

use super::*;

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

fn moved(a: &str, b: &str) -> usize {
    let (a, b) = (chars(a), chars(b));
    moved_chars(&capture_diff_slices(Algorithm::Myers, &a, &b), &a, &b)
}

#[test]
fn swapped_names_count_as_moved_and_edits_do_not() {
    assert!(moved("他曾在广州和上海工作", "他曾在上海和广州工作") >= 2);
    assert!(
        moved("齐王与秦王会面以抗楚王", "楚王与秦王会面以抗齐王") < 2,
        "one-character names"
    );
    assert_eq!(moved("新渡轮由本地船厂建造", "新渡轮由本市船厂建造"), 0);
    assert_eq!(moved("本文仅供参考", "本文仅供参考"), 0);
}

#[test]
fn signals_of_a_pair_name_its_shared_and_clashing_facts() {
    let names =
        concord_text::names::NameBridge::new(vec![("爱彼迎".into(), vec!["airbnb".into()])])
            .unwrap();
    let names = Some(&names);
    let a = Features::new(
        "愛彼迎CEO公開承認，其客服系統在2025年依賴中國大模型。",
        names,
    );
    let b = Features::new(
        "Airbnb CEO表示，公司2025年正大量依賴Qwen，因其更快更好。",
        names,
    );
    let c = Features::new("愛彼迎CEO否認，其客服系統在2024年依賴中國大模型。", names);
    // Without the table the Chinese name stays unbridged.
    assert!(!Features::new("愛彼迎CEO公開承認。", None)
        .anchors
        .contains(&"airbnb".to_string()));
    assert!(a.anchors.contains(&"airbnb".to_string()), "{:?}", a.anchors);
    let mut lexicon = Lexicon::default();
    for f in [&a, &b, &c] {
        lexicon.add(f);
    }
    for i in 0..200 {
        lexicon.add(&Features::new(
            &format!("第{i}段：港口的渡輪照常運行，乘客人數平穩。"),
            None,
        ));
    }
    let side = |f| Side {
        text: "",
        features: f,
    };
    let sem = Semantic {
        cosine: 0.9,
        z: 1.6,
        margin: 1.0,
        mutual: false,
        affinity: 0.3,
        best_in_article: 2.0,
        article_gap: 0.05,
        residual: 0.3,
    };
    let names = feature_at("names_shared");
    let v = judge(side(&a), side(&b), &lexicon, sem);
    assert_eq!(v.features[names], 2.0, "{:?}", v.evidence);
    // A shared year is not a shared figure.
    assert_eq!(v.features[feature_at("numbers_shared")], 0.0);
    assert_eq!(v.features[feature_at("years_shared")], 1.0);
    assert!(v.evidence.probabilities.is_some(), "judged by the model");
    // Other year, and one side denies what the other admits.
    let v = judge(side(&a), side(&c), &lexicon, sem);
    assert_eq!(v.evidence.numbers_clash, 1, "{:?}", v.evidence);
    assert_eq!(v.evidence.figures_clash, 1, "2025年 against 2024年");
    assert!(v.evidence.opposed && v.features[feature_at("opposed")] == 1.0);
    // A notice never pairs with reporting, only with another notice.
    let notice = Features::new("免責聲明：本文僅代表作者觀點，不代表本站立場。", None);
    let notice2 = Features::new("免责声明：本文仅代表作者观点，不代表本平台立场。", None);
    lexicon.add(&notice);
    lexicon.add(&notice2);
    assert!(notice.notice.is_some() && a.notice.is_none());
    assert_eq!(judge(side(&notice), side(&a), &lexicon, sem).label, None);
    let v = judge(side(&notice), side(&notice2), &lexicon, sem);
    assert_eq!(v.label, Some(Label::Boilerplate), "{:?}", v.evidence);
}

fn feature_at(name: &str) -> usize {
    crate::judge::FEATURES
        .iter()
        .position(|f| *f == name)
        .unwrap()
}

#[test]
fn labels_read_back_and_order_findings_above_boilerplate() {
    for l in Label::ALL {
        assert_eq!(l.as_str().parse::<Label>().unwrap(), l);
    }
    assert!(Label::Conflict.is_finding() && !Label::Boilerplate.is_finding());
    assert!(Label::Boilerplate < Label::Related && Label::Agree < Label::Conflict);
}

#[test]
fn digit_runs_keep_their_order() {
    let a = chars("第13队与第16队合并为第3队");
    let b = chars("第3队与第16队合并为第13队");
    assert_ne!(digit_runs(&a), digit_runs(&b));
    assert_eq!(
        digit_runs(&a),
        digit_runs(&chars("第13隊與第16隊合併為第3隊"))
    );
}
