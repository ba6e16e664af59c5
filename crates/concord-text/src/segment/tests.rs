//! Tests of `segment`.

use super::*;

fn texts(ps: &[Passage]) -> Vec<&str> {
    ps.iter().map(|p| p.text.as_str()).collect()
}

#[test]
fn one_paragraph_per_line_with_headings_and_images_dropped() {
    let text = "港口新航線啟用\n文/本報記者\n渡輪公司週一宣布新航線正式啟用，首日載客三千人。\n![](https://img.example/1.png)\n\n01 運量\n市府表示，未來將加密班次。\n";
    let ps = segment(text, &SegmentOptions::default());
    assert_eq!(
        texts(&ps),
        [
            "渡輪公司週一宣布新航線正式啟用，首日載客三千人。",
            "市府表示，未來將加密班次。"
        ]
    );
    assert_eq!(ps[0].section.as_deref(), Some("文/本報記者"));
    assert_eq!(ps[1].section.as_deref(), Some("01 運量"));
    assert_eq!(ps[1].index, 1);
    let chars: Vec<char> = text.chars().collect();
    for p in &ps {
        let span: String = chars[p.start as usize..p.end as usize].iter().collect();
        assert_eq!(span, p.text);
    }
}

#[test]
fn markdown_blocks_join_wrapped_lines() {
    let text = "# Harbour news\n\nThe ferry line opened on Monday\nand carried three thousand people.\n\n- a list item.\n- another item.\n\n## Outlook\n\nMore boats are planned for next year.\n";
    let ps = segment(text, &SegmentOptions::default());
    assert_eq!(
        texts(&ps),
        [
            "The ferry line opened on Monday\nand carried three thousand people.",
            "- a list item.",
            "- another item.",
            "More boats are planned for next year."
        ]
    );
    assert_eq!(ps[0].section.as_deref(), Some("Harbour news"));
    assert_eq!(ps[3].section.as_deref(), Some("Outlook"));
}

#[test]
fn paragraphs_are_cut_into_claims_that_cover_them() {
    let para = "市政府週一宣布，新航線首日載客三千人。他說：“這是好的開始。”另據統計，全年運量預計將達到一百二十萬人次，比去年增加百分之十五，其中通勤旅客佔六成，觀光旅客佔四成，週末班次也將加密以應付需求，市府同時計劃在明年第一季度增設兩個碼頭並延長夜間航班的營運時間，以便利居住在離島的上班族與學生往返市區。";
    let ps = segment(para, &SegmentOptions::default());
    let texts = texts(&ps);
    assert_eq!(texts[0], "市政府週一宣布，新航線首日載客三千人。");
    // The short lead-in joins the quote it introduces.
    assert_eq!(texts[1], "他說：“這是好的開始。”");
    // The long sentence is cut at a clause mark, not mid-clause.
    assert!(texts.len() >= 4, "{texts:?}");
    assert!(texts[2].ends_with('，'), "{texts:?}");
    let joined: String = texts.concat();
    assert_eq!(joined, para);
    assert!(ps.iter().all(|p| p.paragraph == Some(0)));
    let opts = SegmentOptions::default();
    for p in &ps {
        assert!(
            p.text.chars().count() <= opts.claim_max_chars * 3,
            "{}",
            p.text
        );
    }
    let abbreviated = segment(
        "Meta Platforms Inc. said on Monday that Dr. Li left. He was replaced.",
        &opts,
    );
    assert_eq!(abbreviated.len(), 2, "{abbreviated:?}");
    let western = "One sentence here. Version 1.4 ships today! ".repeat(3);
    let ps = segment(&western, &opts);
    assert_eq!(ps.len(), 6);
    assert!(ps.iter().all(|p| p.text.ends_with(['.', '!'])));
}

#[test]
fn short_lines_with_figures_or_names_are_passages_not_headings() {
    let text = "產業概況
2024年人工智能核心產業規模突破9000億元
英偉達Nvidia發布
01 行業巨頭發聲
業內人士認為，增長仍將持續。
";
    let ps = segment(text, &SegmentOptions::default());
    assert_eq!(
        texts(&ps),
        [
            "2024年人工智能核心產業規模突破9000億元",
            "英偉達Nvidia發布",
            "業內人士認為，增長仍將持續。"
        ]
    );
    assert_eq!(ps[0].section.as_deref(), Some("產業概況"));
    assert_eq!(ps[2].section.as_deref(), Some("01 行業巨頭發聲"));
    let paragraphs: Vec<u32> = ps.iter().map(Passage::paragraph).collect();
    assert_eq!(paragraphs, [0, 1, 2]);
}

#[test]
fn a_huge_unpunctuated_line_is_cut_without_panicking() {
    let line = "字".repeat(5000);
    let ps = segment(&line, &SegmentOptions::default());
    assert!(ps.len() >= 5000 / 90, "{}", ps.len());
    assert_eq!(ps.last().unwrap().end, 5000);
    assert_eq!(
        ps.iter().map(|p| p.text.chars().count()).sum::<usize>(),
        5000
    );
}
