//! The readable text of an HTML page (parsed by `scraper`): its `<article>`, else its
//! `<main>`, else its `<body>`, one block element (paragraph, heading, list item,
//! quote, table cell...) a line, with what is never article text left out (scripts,
//! styles, navigation, headers, footers, asides, forms). The title is the first `<h1>`
//! of that part, else the page's `<title>`.

use scraper::{ElementRef, Html, Node, Selector};

/// Elements whose content is never the article's text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "button", "iframe", "svg", "canvas", "select", "head",
];

/// Elements that end the line before and after them.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "table",
    "tr",
    "td",
    "th",
    "figure",
    "figcaption",
    "br",
    "hr",
    "address",
];

/// `(title, text)` of an HTML document.
pub fn readable(html: &str) -> (Option<String>, String) {
    let doc = Html::parse_document(html);
    let pick = |css: &str| {
        Selector::parse(css)
            .ok()
            .and_then(|s| doc.select(&s).next())
    };
    let root = pick("article")
        .or_else(|| pick("main"))
        .or_else(|| pick("body"))
        .unwrap_or_else(|| doc.root_element());
    let mut lines = Vec::new();
    let mut line = String::new();
    walk(root, &mut line, &mut lines);
    flush(&mut line, &mut lines);
    let text_of = |e: ElementRef| collapse(&e.text().collect::<String>());
    let title = Selector::parse("h1")
        .ok()
        .and_then(|s| root.select(&s).next())
        .map(text_of)
        .filter(|t| !t.is_empty())
        .or_else(|| pick("title").map(text_of).filter(|t| !t.is_empty()));
    (title, lines.join("\n\n") + "\n")
}

fn walk(element: ElementRef, line: &mut String, lines: &mut Vec<String>) {
    for child in element.children() {
        match child.value() {
            Node::Text(t) => line.push_str(t),
            Node::Element(e) => {
                let name = e.name();
                if SKIPPED.contains(&name) {
                    continue;
                }
                let block = BLOCKS.contains(&name);
                if block {
                    flush(line, lines);
                }
                if let Some(inner) = ElementRef::wrap(child) {
                    walk(inner, line, lines);
                }
                if block {
                    flush(line, lines);
                }
            }
            _ => {}
        }
    }
}

fn flush(line: &mut String, lines: &mut Vec<String>) {
    let text = collapse(line);
    if !text.is_empty() {
        lines.push(text);
    }
    line.clear();
}

/// Runs of whitespace as one space, trimmed (HTML renders them so).
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_article_text_without_tags_navigation_or_scripts() {
        let page = r#"<!doctype html><html><head><title>港務局 | 新聞網</title>
            <style>p { color: red }</style><script>var x = "<p>not text</p>";</script></head>
            <body><nav><a href="/">首頁</a> <a href="/news">新聞</a></nav>
            <article><h1>電動渡輪下月首航</h1>
            <p>港務局<b>週一</b>宣布，首批六艘電動渡輪將於下月投入營運。</p>
            <div><p>單程約 22 分鐘，
               票價維持不變。</p><ul><li>東堤碼頭</li><li>南灣碼頭</li></ul></div>
            <aside>相關新聞：颱風來襲</aside></article>
            <footer>版權所有 © 新聞網</footer></body></html>"#;
        let (title, text) = readable(page);
        assert_eq!(title.as_deref(), Some("電動渡輪下月首航"));
        let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(
            lines,
            [
                "電動渡輪下月首航",
                "港務局週一宣布，首批六艘電動渡輪將於下月投入營運。",
                "單程約 22 分鐘， 票價維持不變。",
                "東堤碼頭",
                "南灣碼頭",
            ]
        );
    }

    #[test]
    fn a_page_without_article_uses_its_body_and_title() {
        let (title, text) =
            readable("<html><head><title>Notice</title></head><body><p>One.</p></body></html>");
        assert_eq!(title.as_deref(), Some("Notice"));
        assert_eq!(text.trim(), "One.");
    }
}
