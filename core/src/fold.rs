//! Text normalisation for Vietnamese names: NFC for storage, a folded key for
//! search. Folding removes diacritics (`ễ` → `e`), maps `đ` → `d` (it is a
//! letter of its own, not `d` plus a mark, so NFD leaves it alone), lowercases
//! and collapses everything that is not a letter or digit into single spaces.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// NFC with runs of whitespace collapsed to one space and the ends trimmed.
pub fn tidy_nfc(s: &str) -> String {
    let nfc: String = s.nfc().collect();
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The search key of a name or query: `  Nguyễn  Văn ĐỨC ` → `nguyen van duc`.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c,
        };
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

/// The folded words of `s`.
pub fn fold_tokens(s: &str) -> Vec<String> {
    fold(s).split(' ').filter(|t| !t.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn folds_vietnamese_names() {
        assert_eq!(fold("Nguyễn Văn An"), "nguyen van an");
        assert_eq!(fold("ĐẶNG THỊ ĐÀO"), "dang thi dao");
        assert_eq!(fold("  Trần   Thị\tHương-Giang "), "tran thi huong giang");
        assert_eq!(fold("Lê Ngọc Ánh"), "le ngoc anh");
        assert_eq!(fold("Phạm Quỳnh Hương"), "pham quynh huong");
        assert_eq!(fold("Ư ư Ơ ơ Ă ă Â â Ê ê Ô ô"), "u u o o a a a a e e o o");
    }

    #[test]
    fn decomposed_and_composed_input_fold_alike() {
        let composed = "Nguyễn";
        let decomposed: String = composed.nfd().collect();
        assert_ne!(composed, decomposed);
        assert_eq!(fold(composed), fold(&decomposed));
        assert_eq!(tidy_nfc(&decomposed), composed);
    }

    proptest! {
        #[test]
        fn fold_is_idempotent_and_ascii_for_vietnamese(s in "[a-zA-ZàáảãạăắằẳẵặâấầẩẫậèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵđĐ ]{0,40}") {
            let f = fold(&s);
            prop_assert_eq!(fold(&f), f.clone());
            prop_assert!(f.is_ascii(), "{:?} folded to non-ASCII {:?}", s, f);
            prop_assert!(!f.starts_with(' ') && !f.ends_with(' ') && !f.contains("  "));
        }

        #[test]
        fn fold_never_panics(s in any::<String>()) {
            let _ = fold(&s);
            let _ = tidy_nfc(&s);
        }
    }
}
