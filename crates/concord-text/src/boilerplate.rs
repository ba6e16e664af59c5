//! Boilerplate: the notices, disclaimers and prompts outlets put around their articles
//! (reprint and copyright lines, "views are the author's own", editor lines, share,
//! follow, subscribe and download prompts, investment warnings). Such a line is kept as
//! a passage, so it can be reported apart, and never counts as a shared claim.

/// What kind of notice a boilerplate line is: two notices of one kind in different
/// articles (a copyright line and another outlet's reprint notice, an app prompt and a
/// share prompt) correspond, whatever their wording or language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    /// Copyright, reprint and source lines.
    Rights,
    /// Disclaimers: the author's own views, not investment advice, platform notices.
    Views,
    /// Share, follow, subscribe, comment and download prompts.
    Prompt,
    /// Editor, reporter and byline lines.
    Credit,
}

/// Marks of each kind of boilerplate, folded (Simplified, lower case, no spaces or
/// punctuation).
pub const NOTICES: &[(Notice, &[&str])] = &[
    (
        Notice::Rights,
        &[
            "版权所有",
            "版权归",
            "版权属",
            "转载",
            "独家稿件",
            "未经授权",
            "未经许可",
            "原标题",
            "本文来源",
            "供稿",
            "如有侵权",
            "allrightsreserved",
            "copyright",
            "reprint",
        ],
    ),
    (
        Notice::Views,
        &[
            "免责声明",
            "特别声明",
            "信息存储服务",
            "用户上传",
            "仅代表作者",
            "不代表本",
            "仅供参考",
            "投资有风险",
            "不构成投资建议",
            "风险自担",
            "thecontentabove",
            "informationstorage",
            "theviewsexpressed",
            "donotnecessarilyreflect",
            "notinvestmentadvice",
        ],
    ),
    (
        Notice::Prompt,
        &[
            "扫码",
            "二维码",
            "全文共",
            "阅读原文",
            "点击关注",
            "欢迎关注",
            "关注我们",
            "下载app",
            "置顶推荐",
            "分享到",
            "分享给",
            "欢迎分享",
            "转发本文",
            "评论区留言",
            "订阅",
            "sharethis",
            "downloadourapp",
            "subscribe",
            "signupfor",
            "followus",
            "clickhere",
            "newsletter",
        ],
    ),
    (
        Notice::Credit,
        &[
            "责任编辑",
            "reportingby",
            "editingby",
            "editedby",
            "editorsnote",
        ],
    ),
];

/// Whether folded text (see [`crate::fold`]) reads as boilerplate (see [`notice`]).
pub fn is_boilerplate(folded: &str) -> bool {
    notice(folded).is_some()
}

/// The kind of notice folded text is: it holds a mark of [`NOTICES`], an app download
/// prompt or a short source or byline line, and is short (a notice is a line or two; a
/// report that quotes a disclaimer is not one).
pub fn notice(folded: &str) -> Option<Notice> {
    let n = folded.chars().count();
    // Latin script spends about 2.5 characters where Chinese spends one.
    let latin = folded.chars().filter(char::is_ascii_alphabetic).count() * 2 > n;
    if n > if latin { 300 } else { 120 } {
        return None;
    }
    if let Some((kind, _)) = NOTICES
        .iter()
        .find(|(_, marks)| marks.iter().any(|m| folded.contains(m)))
    {
        return Some(*kind);
    }
    let any = |marks: &[&str]| marks.iter().any(|m| folded.contains(m));
    if n <= PROMPT_MAX_CHARS && any(PROMPT_VERBS) && any(PROMPT_OBJECTS) {
        return Some(Notice::Prompt);
    }
    if n <= 24 && SOURCES.iter().any(|m| folded.starts_with(m)) {
        return Some(Notice::Rights);
    }
    (n <= 24 && BYLINES.iter().any(|m| folded.starts_with(m))).then_some(Notice::Credit)
}

/// A prompt is one of these verbs with one of these objects ("download our app",
/// 打开客户端, 追踪脸书专页, 按赞分享) in a short line; either alone, or in a longer
/// line, is ordinary reporting (下载量 ... 社群平台).
const PROMPT_VERBS: &[&str] = &["下载", "打开", "追踪", "关注", "按赞", "点击", "download"];
const PROMPT_OBJECTS: &[&str] = &["app", "客户端", "专页", "分享", "好友"];
/// Folded characters of a prompt line at most (a report sentence is longer).
const PROMPT_MAX_CHARS: usize = 30;

/// Openings of a short source line (folded).
const SOURCES: &[&str] = &["来源", "source"];

/// Openings of a byline or editor line (folded), when the line is short.
const BYLINES: &[&str] = &[
    "作者",
    "记者",
    "编辑",
    "责编",
    "撰文",
    "撰稿",
    "reportedby",
    "writtenby",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold;

    #[test]
    fn notices_are_boilerplate_and_reports_are_not() {
        for t in [
            "（本文版權屬東寧新聞網所有，未經授權不得轉載）",
            "責任編輯：梁家寶",
            "作者:Michael Schuman",
            "下載南嶺日報App，第一時間掌握突發新聞。",
            "© 2023 Meridian Wire. All rights reserved.",
            "Share this article",
            "Notice: The content above (including the pictures and videos if any) is uploaded and posted by a user of a platform, which only provides information storage services.",
            "特別聲明:以上內容(如有圖片或視頻亦包括在內)為自媒體平臺“網易號”用戶上傳并發布,本平臺僅提供信息存儲服務。",
            "（來源：新岬通訊社）",
            "打開南岸新聞客戶端，查看更多本地要聞",
            "追蹤嶼城時報臉書專頁，掌握最新評論。",
            "覺得這篇文章有用？歡迎按讚、分享。",
        ] {
            assert!(is_boilerplate(&fold(t).as_string()), "{t}");
        }
        // Notices of one kind correspond across wording and language.
        let kind = |t: &str| notice(&fold(t).as_string());
        assert_eq!(
            kind("© 2025 Coastline Times. All rights reserved."),
            Some(Notice::Rights)
        );
        assert_eq!(
            kind("本文由環島通訊社供稿，版權所有，未經授權不得轉載"),
            Some(Notice::Rights)
        );
        assert_eq!(
            kind("轉發本文到朋友圈，讓更多人看到。"),
            Some(Notice::Prompt)
        );
        assert_eq!(kind("Share this story"), Some(Notice::Prompt));
        assert_eq!(
            kind("本文僅代表作者個人意見，不代表本網立場。"),
            Some(Notice::Views)
        );
        assert_eq!(kind("責任編輯：梁家寶"), Some(Notice::Credit));
        for t in [
            "市議會以31票對22票通過明年度預算。",
            "The council approved the budget on Wednesday.",
            "他在臉書專頁發文，批評市府的預算。",
            "該公司的訂單分享會上，共有三百家供應商出席。",
            "衡川智算表示，模型權重上線開源社群平台後的48小時內，下載量已超過37,000次。",
            "該應用程式上架首周下載量突破50萬次，用戶可在客戶端內直接分享內容。",
        ] {
            assert!(!is_boilerplate(&fold(t).as_string()), "{t}");
        }
    }
}
