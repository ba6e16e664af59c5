//! Boilerplate: the notices, disclaimers and prompts outlets put around their articles
//! (reprint and copyright lines, "views are the author's own", editor lines, share,
//! follow, subscribe and download prompts, investment warnings). Such a line is kept as
//! a passage, so it can be reported apart, and never counts as a shared claim.

/// Marks of boilerplate, folded: reprint, copyright and disclaimer notices, editor and
/// source lines, share, follow and download prompts, investment warnings.
pub const BOILERPLATE: &[&str] = &[
    "免责声明",
    "特别声明",
    "信息存储服务",
    "用户上传",
    "版权所有",
    "版权归",
    "版权属",
    "转载",
    "责任编辑",
    "独家稿件",
    "未经授权",
    "未经许可",
    "仅代表作者",
    "不代表本",
    "原标题",
    "扫码",
    "二维码",
    "全文共",
    "阅读原文",
    "点击关注",
    "欢迎关注",
    "关注我们",
    "下载app",
    "投资有风险",
    "不构成投资建议",
    "风险自担",
    "本文来源",
    "置顶推荐",
    "分享到",
    "订阅",
    "allrightsreserved",
    "copyright",
    "sharethisarticle",
    "downloadourapp",
    "thecontentabove",
    "informationstorage",
    "reportingby",
    "editingby",
    "subscribe",
    "signupfor",
    "theviewsexpressed",
    "donotnecessarilyreflect",
    "followus",
    "clickhere",
    "newsletter",
    "reprint",
    "editedby",
    "editorsnote",
];

/// Whether folded text (see [`crate::fold`]) reads as boilerplate: it holds one of
/// [`BOILERPLATE`], or an app download prompt, and is short (a notice is a line or
/// two; a report that quotes a disclaimer is not one).
pub fn is_boilerplate(folded: &str) -> bool {
    let n = folded.chars().count();
    let download =
        (folded.contains("下载") || folded.contains("download")) && folded.contains("app");
    let byline = n <= 24 && BYLINES.iter().any(|m| folded.starts_with(m));
    // Latin script spends about 2.5 characters where Chinese spends one.
    let latin = folded.chars().filter(char::is_ascii_alphabetic).count() * 2 > n;
    let limit = if latin { 300 } else { 120 };
    n <= limit && (download || byline || BOILERPLATE.iter().any(|m| folded.contains(m)))
}

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
        ] {
            assert!(is_boilerplate(&fold(t).as_string()), "{t}");
        }
        for t in [
            "市議會以31票對22票通過明年度預算。",
            "The council approved the budget on Wednesday.",
        ] {
            assert!(!is_boilerplate(&fold(t).as_string()), "{t}");
        }
    }
}
