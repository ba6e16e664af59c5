//! Quantities: the figures of a passage as what they measure and how much, whatever
//! the language, script or magnitude word they are written with. `46億元`, `46亿元`
//! and `4.6 billion yuan` are one quantity (yuan, 4600000000); `3小時` and `180
//! minutes` are one duration; `約五千名騎手` counts people like `5,000 riders`.
//!
//! A quantity needs a unit from [`UNITS`] right after its number (and its magnitude
//! word): a bare number, a date or a rank (`第3名`) is not one. Chinese numerals count
//! when they are more than a lone 一 (which starts too many words to be a figure).
//!
//! Read on text already normalised for the anchors (NFKC, lower case, Simplified), and
//! compared as figures are ([`crate::features::figure_agreement`]).

/// Units a quantity can be counted in, folded: the class it belongs to and the factor
/// to that class's base unit (durations in minutes, shares in per cent). Longer marks
/// are tried first, so `千瓦时` is energy, not a thousand of something.
pub const UNITS: &[(&str, &str, f64)] = &[
    ("%", "%", 1.0),
    ("percent", "%", 1.0),
    ("per cent", "%", 1.0),
    ("成", "%", 10.0),
    ("个百分点", "pp", 1.0),
    ("percentage points", "pp", 1.0),
    ("percentage point", "pp", 1.0),
    ("人", "people", 1.0),
    ("名", "people", 1.0),
    ("位", "people", 1.0),
    ("people", "people", 1.0),
    ("persons", "people", 1.0),
    ("residents", "people", 1.0),
    ("workers", "people", 1.0),
    ("employees", "people", 1.0),
    ("staff", "people", 1.0),
    ("nurses", "people", 1.0),
    ("doctors", "people", 1.0),
    ("patients", "people", 1.0),
    ("students", "people", 1.0),
    ("children", "people", 1.0),
    ("passengers", "people", 1.0),
    ("riders", "people", 1.0),
    ("drivers", "people", 1.0),
    ("visitors", "people", 1.0),
    ("tourists", "people", 1.0),
    ("members", "people", 1.0),
    ("victims", "people", 1.0),
    ("美元", "usd", 1.0),
    ("dollars", "usd", 1.0),
    ("港元", "hkd", 1.0),
    ("港币", "hkd", 1.0),
    ("欧元", "eur", 1.0),
    ("euros", "eur", 1.0),
    ("元", "yuan", 1.0),
    ("块", "yuan", 1.0),
    ("yuan", "yuan", 1.0),
    ("renminbi", "yuan", 1.0),
    ("rmb", "yuan", 1.0),
    ("吨", "tonnes", 1.0),
    ("tonnes", "tonnes", 1.0),
    ("tonne", "tonnes", 1.0),
    ("tons", "tonnes", 1.0),
    ("千瓦时", "kwh", 1.0),
    ("度电", "kwh", 1.0),
    ("kwh", "kwh", 1.0),
    ("kilowatt-hours", "kwh", 1.0),
    ("公里", "km", 1.0),
    ("km", "km", 1.0),
    ("kilometres", "km", 1.0),
    ("kilometers", "km", 1.0),
    ("起", "cases", 1.0),
    ("宗", "cases", 1.0),
    ("件", "cases", 1.0),
    ("cases", "cases", 1.0),
    ("incidents", "cases", 1.0),
    ("台", "units", 1.0),
    ("辆", "units", 1.0),
    ("架", "units", 1.0),
    ("units", "units", 1.0),
    ("vehicles", "units", 1.0),
    ("cars", "units", 1.0),
    ("robots", "units", 1.0),
    ("machines", "units", 1.0),
    ("aircraft", "units", 1.0),
    ("buses", "units", 1.0),
    ("票", "votes", 1.0),
    ("votes", "votes", 1.0),
    ("小时", "minutes", 60.0),
    ("hours", "minutes", 60.0),
    ("hour", "minutes", 60.0),
    ("分钟", "minutes", 1.0),
    ("minutes", "minutes", 1.0),
    ("天", "minutes", 1440.0),
    ("days", "minutes", 1440.0),
    ("个月", "months", 1.0),
    ("months", "months", 1.0),
];

/// Magnitude words between a number and its unit.
const MAGNITUDES: &[(&str, f64)] = &[
    ("万亿", 1e12),
    ("亿", 1e8),
    ("万", 1e4),
    ("千", 1e3),
    ("百", 1e2),
    ("trillion", 1e12),
    ("billion", 1e9),
    ("million", 1e6),
    ("thousand", 1e3),
    ("bn", 1e9),
    ("m", 1e6),
];

/// The quantities of `norm`: `(class, value in the class's base unit)`, the value
/// written with at most three decimals; sorted and unique.
pub fn quantities(norm: &[char]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < norm.len() {
        let after_letter = i > 0 && norm[i - 1].is_ascii_alphanumeric();
        let ranked = i > 0 && norm[i - 1] == '第';
        let parsed = if norm[i].is_ascii_digit() && !after_letter {
            arabic(norm, i)
        } else if starts_numeral(norm[i]) && (i == 0 || !in_numeral(norm[i - 1])) {
            chinese(norm, i)
        } else {
            None
        };
        let Some((value, end)) = parsed else {
            i += 1;
            continue;
        };
        if !ranked {
            let dollar = i > 0 && norm[i - 1] == '$';
            if let Some((class, v)) = unit_after(norm, end, value, dollar) {
                out.push((class.to_string(), format_value(v)));
            }
        }
        i = end.max(i + 1);
    }
    out.sort();
    out.dedup();
    out
}

/// An Arabic number at `i` (thousands separators dropped, one decimal point kept) and
/// the index past it.
fn arabic(norm: &[char], i: usize) -> Option<(f64, usize)> {
    let (digits, end) = crate::features::token_at(norm, i, |c| c.is_ascii_digit());
    digits.parse().ok().map(|v| (v, end))
}

/// A character a Chinese numeral starts with: a digit, or 十 (`十二`).
fn starts_numeral(c: char) -> bool {
    numeral(c).is_some() || c == '十'
}

/// A character a Chinese numeral holds.
fn in_numeral(c: char) -> bool {
    numeral(c).is_some() || "十百千万亿".contains(c)
}

fn numeral(c: char) -> Option<u32> {
    "零一二三四五六七八九"
        .find(c)
        .map(|b| (b / 3) as u32)
        .or(match c {
            '〇' => Some(0),
            '两' => Some(2),
            _ => None,
        })
}

/// A Chinese numeral at `i` (`五千`, `三万七千`, `十二`, `两`) and the index past it;
/// a lone `一` is not taken.
fn chinese(norm: &[char], i: usize) -> Option<(f64, usize)> {
    let (mut total, mut section, mut digit) = (0f64, 0f64, None::<u32>);
    let mut j = i;
    while j < norm.len() {
        let c = norm[j];
        if let Some(d) = numeral(c) {
            digit = Some(d);
        } else if let Some(unit) = match c {
            '十' => Some(10.0),
            '百' => Some(100.0),
            '千' => Some(1000.0),
            _ => None,
        } {
            section += f64::from(digit.take().unwrap_or(1)) * unit;
        } else if c == '万' || c == '亿' {
            // Only inside a numeral: `三万` is a number, `万一` is not.
            if j == i {
                break;
            }
            let unit = if c == '万' { 1e4 } else { 1e8 };
            total = (total + section + f64::from(digit.take().unwrap_or(0))) * unit;
            section = 0.0;
        } else {
            break;
        }
        j += 1;
    }
    if j == i || (j == i + 1 && norm[i] == '一') {
        return None;
    }
    let value = total + section + f64::from(digit.unwrap_or(0));
    Some((value, j))
}

/// The unit after a number ending at `at` (spaces and magnitude words allowed in
/// between), as a class and the value in its base unit; a `$` before the number
/// makes dollars of it.
fn unit_after(norm: &[char], at: usize, value: f64, dollar: bool) -> Option<(&'static str, f64)> {
    let rest: String = norm[at..].iter().take(24).collect();
    let mut rest = rest.as_str();
    let mut value = value;
    loop {
        let trimmed = rest.trim_start();
        if let Some(unit) = longest_unit(trimmed) {
            return Some((unit.1, value * unit.2));
        }
        let Some(m) = MAGNITUDES.iter().find(|(w, _)| {
            trimmed.starts_with(w)
                && (!w.is_ascii()
                    || !trimmed[w.len()..].starts_with(|c: char| c.is_ascii_alphabetic()))
        }) else {
            return dollar.then_some(("usd", value));
        };
        value *= m.1;
        rest = &trimmed[m.0.len()..];
    }
}

/// The longest mark of [`UNITS`] starting `text` (a Latin one must end at a word
/// boundary).
fn longest_unit(text: &str) -> Option<&'static (&'static str, &'static str, f64)> {
    UNITS
        .iter()
        .filter(|(w, _, _)| {
            text.starts_with(w)
                && (!w.is_ascii()
                    || w == &"%"
                    || !text[w.len()..].starts_with(|c: char| c.is_ascii_alphabetic()))
        })
        .max_by_key(|(w, _, _)| w.chars().count())
}

fn format_value(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::figure_agreement as agreement;

    fn q(text: &str) -> Vec<(String, String)> {
        let norm: Vec<char> = text.to_lowercase().chars().collect();
        quantities(&norm)
    }

    fn has(qs: &[(String, String)], class: &str, value: &str) -> bool {
        qs.iter().any(|(c, v)| c == class && v == value)
    }

    #[test]
    fn one_amount_in_either_language_and_magnitude() {
        let zh = q("其中租金补贴大增至46亿元");
        let en = q("Rent subsidy budget: 4.6 billion yuan.");
        assert!(has(&zh, "yuan", "4600000000"), "{zh:?}");
        assert!(has(&en, "yuan", "4600000000"), "{en:?}");
        assert_eq!(agreement(&zh, &en), (1, 0));
        let other = q("Transport Minister put the final cost at 195 billion yuan");
        assert_eq!(agreement(&q("总造价约为1860亿元"), &other), (0, 1));
        assert!(has(&q("$1.2bn in orders"), "usd", "1200000000"));
    }

    #[test]
    fn units_of_one_class_compare_after_conversion() {
        assert!(has(&q("故障持续约3小时"), "minutes", "180"));
        assert_eq!(
            agreement(&q("故障持续约3小时"), &q("但称故障仅持续约40分钟")),
            (0, 1)
        );
        assert_eq!(
            agreement(
                &q("The regulator ordered the recall of 68 tonnes"),
                &q("召回的86吨产品")
            ),
            (0, 1)
        );
        assert!(has(&q("去年用电约26亿千瓦时"), "kwh", "2600000000"));
        assert!(has(&q("超过三成受访者"), "%", "30"));
        assert!(has(&q("turnout was 61.4 per cent"), "%", "61.4"));
    }

    #[test]
    fn chinese_numerals_count_and_words_do_not() {
        assert!(has(&q("9月22日约五千名骑手集体下线"), "people", "5000"));
        assert!(has(&q("部长估计可创造三万七千个职位和两人"), "people", "2"));
        assert!(has(&q("十二人受伤"), "people", "12"));
        // A lone 一 starts words (一起, 一名), a rank is not a count, nor is a date.
        assert!(
            q("他们一起出发,一名男子").is_empty(),
            "{:?}",
            q("他们一起出发")
        );
        assert!(q("她获得第3名").is_empty());
        assert!(q("2024年7月").is_empty());
        assert!(q("万一发生事故").is_empty());
    }
}
