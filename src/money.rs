//! Exact money: CNY as integer fen, GatePay amounts as exact decimals.
//!
//! Nothing here touches a float. Operator text is parsed digit by digit, so `0.1 + 0.2`
//! problems cannot arise, and every rejection says what was wrong with the text.
#![deny(clippy::float_arithmetic)]

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A CNY amount in fen (分, 1/100 yuan), as the CNY gateway sends and expects it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(i64);

/// Whether an operator may type zero (a payout amount may not; a filter bound may).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zero {
    Allowed,
    Refused,
}

/// Why the text an operator typed is not an amount.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("enter an amount")]
    Empty,
    #[error("amounts cannot be negative")]
    Negative,
    #[error("the amount must be more than zero")]
    Zero,
    #[error("at most {max} decimal places are allowed (found {found})")]
    TooManyDecimals { max: u32, found: u32 },
    #[error("the amount is too large")]
    Overflow,
    #[error("exponents such as 1e5 are not accepted: type the digits")]
    Exponent,
    #[error("unexpected character '{0}'")]
    InvalidCharacter(char),
    #[error("thousands separators must group three digits, as in 1,234,567.89")]
    BadGrouping,
    #[error("more than one decimal point")]
    TwoDecimalPoints,
    #[error("no digits before or after the decimal point")]
    NoDigits,
}

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub const fn from_fen(fen: i64) -> Fen {
        Fen(fen)
    }

    pub const fn fen(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }

    /// Sum without silent wrap-around: `None` when the total does not fit.
    pub fn checked_sum<I: IntoIterator<Item = Fen>>(items: I) -> Option<Fen> {
        items.into_iter().try_fold(Fen::ZERO, Fen::checked_add)
    }

    /// Parses what an operator types as yuan: `1234.56`, `1,234.56`, `¥1234.5`, `1234`.
    pub fn parse_yuan(text: &str, zero: Zero) -> Result<Fen, AmountError> {
        let ascii = halfwidth(text);
        let digits = parse_decimal_text(&ascii, 2, true)?;
        let whole: i64 = digits
            .whole
            .parse::<i64>()
            .map_err(|_| AmountError::Overflow)?;
        let mut frac = digits.frac.to_owned();
        while frac.len() < 2 {
            frac.push('0');
        }
        let frac: i64 = frac.parse().map_err(|_| AmountError::Overflow)?;
        let fen = whole
            .checked_mul(100)
            .and_then(|f| f.checked_add(frac))
            .ok_or(AmountError::Overflow)?;
        if fen == 0 && zero == Zero::Refused {
            return Err(AmountError::Zero);
        }
        Ok(Fen(fen))
    }

    /// Yuan with thousands separators and two decimals: `1,234.56`.
    pub fn yuan_grouped(self) -> String {
        self.format(true)
    }

    /// Yuan with two decimals and no separators (`1234.56`), for files and machines.
    pub fn yuan_plain(self) -> String {
        self.format(false)
    }

    fn format(self, grouped: bool) -> String {
        let negative = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let whole = (abs / 100).to_string();
        let frac = abs % 100;
        let whole = if grouped {
            group_thousands(&whole)
        } else {
            whole
        };
        format!("{}{whole}.{frac:02}", if negative { "-" } else { "" })
    }
}

impl fmt::Display for Fen {
    /// Shown to people as yuan with separators and the currency sign: `¥1,234.56`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "-¥{}", Fen(-self.0).yuan_grouped())
        } else {
            write!(f, "¥{}", self.yuan_grouped())
        }
    }
}

const CAPITAL_DIGITS: [char; 10] = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];
const CAPITAL_UNITS: [&str; 4] = ["", "拾", "佰", "仟"];
const CAPITAL_SECTIONS: [&str; 5] = ["", "万", "亿", "万亿", "亿亿"];

impl Fen {
    /// The amount in Chinese capital numerals (大写金额), as financial forms write it:
    /// `¥1,234.56` is `壹仟贰佰叁拾肆元伍角陆分`, `¥100,000.00` is `壹拾万元整`,
    /// `¥1,409.02` is `壹仟肆佰零玖元零贰分` (the rules of the People's Bank of China for
    /// filling in bills: 整 after yuan or jiao with no fen; 零 for skipped places).
    pub fn capital_numerals(self) -> String {
        let abs = self.0.unsigned_abs();
        let (yuan, jiao, fen) = (abs / 100, (abs / 10) % 10, abs % 10);
        let mut out = String::new();
        if self.0 < 0 {
            out.push('负');
        }
        if yuan > 0 {
            out.push_str(&capital_integer(yuan));
            out.push('元');
        }
        match (jiao, fen) {
            (0, 0) if yuan == 0 => out.push_str("零元整"),
            (0, 0) => out.push('整'),
            (j, 0) => {
                out.push(CAPITAL_DIGITS[j as usize]);
                out.push_str("角整");
            }
            (0, f) => {
                if yuan > 0 {
                    out.push('零');
                }
                out.push(CAPITAL_DIGITS[f as usize]);
                out.push('分');
            }
            (j, f) => {
                out.push(CAPITAL_DIGITS[j as usize]);
                out.push('角');
                out.push(CAPITAL_DIGITS[f as usize]);
                out.push('分');
            }
        }
        out
    }
}

/// A positive whole number in capital numerals, in sections of four digits.
fn capital_integer(n: u64) -> String {
    let digits: Vec<u8> = n.to_string().bytes().map(|b| b - b'0').collect();
    let mut out = String::new();
    let mut zero_pending = false;
    let mut section_has_digit = false;
    for (i, d) in digits.iter().enumerate() {
        let place = digits.len() - 1 - i;
        let (section, unit) = (place / 4, place % 4);
        if *d == 0 {
            zero_pending = !out.is_empty();
        } else {
            if zero_pending {
                out.push('零');
            }
            out.push(CAPITAL_DIGITS[*d as usize]);
            out.push_str(CAPITAL_UNITS[unit]);
            zero_pending = false;
            section_has_digit = true;
        }
        if unit == 0 {
            if section_has_digit {
                out.push_str(CAPITAL_SECTIONS[section]);
            }
            section_has_digit = false;
        }
    }
    out
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

struct DecimalText<'a> {
    whole: String,
    frac: &'a str,
}

/// Full-width digits and punctuation, as Chinese input methods type them, made ASCII.
fn halfwidth(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            '．' | '。' => '.',
            '，' => ',',
            '＋' => '+',
            '－' => '-',
            '　' => ' ',
            other => other,
        })
        .collect()
}

/// The shared grammar of typed amounts: optional currency sign (CNY only), digits with
/// optional correctly placed thousands separators, an optional point and at most
/// `max_places` digits.
fn parse_decimal_text(
    text: &str,
    max_places: u32,
    currency_prefix: bool,
) -> Result<DecimalText<'_>, AmountError> {
    let mut s = text.trim();
    if currency_prefix {
        for prefix in ["¥", "￥", "CNY", "RMB"] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest.trim_start();
                break;
            }
        }
    }
    if s.is_empty() {
        return Err(AmountError::Empty);
    }
    if s.starts_with('-') {
        return Err(AmountError::Negative);
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_digit() || *c == '.' || *c == ','))
    {
        return Err(if c == 'e' || c == 'E' {
            AmountError::Exponent
        } else {
            AmountError::InvalidCharacter(c)
        });
    }
    let mut parts = s.split('.');
    let whole_text = parts.next().unwrap_or("");
    let frac = parts.next().unwrap_or("");
    if parts.next().is_some() {
        return Err(AmountError::TwoDecimalPoints);
    }
    if frac.contains(',') {
        return Err(AmountError::BadGrouping);
    }
    if whole_text.is_empty() && frac.is_empty() {
        return Err(AmountError::NoDigits);
    }
    let whole = if whole_text.contains(',') {
        let groups: Vec<&str> = whole_text.split(',').collect();
        let first_ok = (1..=3).contains(&groups[0].len());
        if !first_ok || groups[1..].iter().any(|g| g.len() != 3) {
            return Err(AmountError::BadGrouping);
        }
        groups.concat()
    } else if whole_text.is_empty() {
        "0".to_owned()
    } else {
        whole_text.to_owned()
    };
    let found = frac.len() as u32;
    if found > max_places {
        return Err(AmountError::TooManyDecimals {
            max: max_places,
            found,
        });
    }
    // Leading zeros are harmless; very long digit strings overflow below.
    if whole.len() > 30 {
        return Err(AmountError::Overflow);
    }
    Ok(DecimalText { whole, frac })
}

/// A GatePay amount: an exact decimal carried as text on the wire (`"0.01"`), never a float.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CryptoAmount(Decimal);

/// GatePay accepts at most six decimal places on a payout amount.
pub const GATEPAY_MAX_PLACES: u32 = 6;

impl CryptoAmount {
    pub const ZERO: CryptoAmount = CryptoAmount(Decimal::ZERO);

    /// Parses an operator's payout amount: more than zero, at most six places.
    pub fn parse_payout(text: &str) -> Result<CryptoAmount, AmountError> {
        let amount = Self::parse_with_places(text, GATEPAY_MAX_PLACES)?;
        if amount.0.is_zero() {
            return Err(AmountError::Zero);
        }
        Ok(amount)
    }

    /// Parses an amount the gateway sent; exact, with up to 18 places, zero allowed.
    pub fn parse_wire(text: &str) -> Result<CryptoAmount, AmountError> {
        Self::parse_with_places(text, 18)
    }

    fn parse_with_places(text: &str, places: u32) -> Result<CryptoAmount, AmountError> {
        let digits = parse_decimal_text(text, places, false)?;
        let joined = if digits.frac.is_empty() {
            digits.whole
        } else {
            format!("{}.{}", digits.whole, digits.frac)
        };
        Decimal::from_str(&joined)
            .map(CryptoAmount)
            .map_err(|_| AmountError::Overflow)
    }

    pub fn decimal(self) -> Decimal {
        self.0
    }

    pub fn scale(self) -> u32 {
        self.0.scale()
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    pub fn checked_add(self, other: CryptoAmount) -> Option<CryptoAmount> {
        self.0.checked_add(other.0).map(CryptoAmount)
    }

    pub fn checked_sub(self, other: CryptoAmount) -> Option<CryptoAmount> {
        self.0.checked_sub(other.0).map(CryptoAmount)
    }
}

impl fmt::Display for CryptoAmount {
    /// The exact text, keeping the scale it was given with (`0.010` stays `0.010`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for CryptoAmount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CryptoAmount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        CryptoAmount::parse_wire(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn yuan(s: &str) -> Result<i64, AmountError> {
        Fen::parse_yuan(s, Zero::Refused).map(Fen::fen)
    }

    #[test]
    fn parses_what_operators_type() {
        assert_eq!(yuan("1234.56"), Ok(123_456));
        assert_eq!(yuan("1,234.56"), Ok(123_456));
        assert_eq!(yuan("¥1234.5"), Ok(123_450));
        assert_eq!(yuan("￥ 1,234"), Ok(123_400));
        assert_eq!(yuan("1234"), Ok(123_400));
        assert_eq!(yuan("  0.01 "), Ok(1));
        assert_eq!(yuan(".5"), Ok(50));
        assert_eq!(yuan("12."), Ok(1200));
        assert_eq!(yuan("1,234,567.89"), Ok(123_456_789));
        assert_eq!(yuan("１，２３４．５６"), Ok(123_456));
        assert_eq!(yuan("￥１２３４"), Ok(123_400));
    }

    #[test]
    fn rejects_with_a_reason() {
        assert_eq!(
            yuan("1.234"),
            Err(AmountError::TooManyDecimals { max: 2, found: 3 })
        );
        assert_eq!(yuan("-5"), Err(AmountError::Negative));
        assert_eq!(yuan("0"), Err(AmountError::Zero));
        assert_eq!(yuan("0.00"), Err(AmountError::Zero));
        assert_eq!(Fen::parse_yuan("0", Zero::Allowed), Ok(Fen::ZERO));
        assert_eq!(yuan("99999999999999999999"), Err(AmountError::Overflow));
        assert_eq!(yuan("92233720368547758.08"), Err(AmountError::Overflow));
        assert_eq!(yuan("12a"), Err(AmountError::InvalidCharacter('a')));
        assert_eq!(yuan("1e5"), Err(AmountError::Exponent));
        assert_eq!(yuan("1,23.45"), Err(AmountError::BadGrouping));
        assert_eq!(yuan("1234,567"), Err(AmountError::BadGrouping));
        assert_eq!(yuan("1.2.3"), Err(AmountError::TwoDecimalPoints));
        assert_eq!(yuan(""), Err(AmountError::Empty));
        assert_eq!(yuan("¥"), Err(AmountError::Empty));
        assert_eq!(yuan("."), Err(AmountError::NoDigits));
    }

    #[test]
    fn formats_as_yuan() {
        assert_eq!(Fen::from_fen(123_456).to_string(), "¥1,234.56");
        assert_eq!(Fen::from_fen(5).yuan_grouped(), "0.05");
        assert_eq!(Fen::from_fen(100_000_000).yuan_grouped(), "1,000,000.00");
        assert_eq!(Fen::from_fen(123_456_789).yuan_plain(), "1234567.89");
        assert_eq!(Fen::from_fen(-3200).to_string(), "-¥32.00");
        assert_eq!(
            Fen::from_fen(i64::MIN).yuan_plain(),
            "-92233720368547758.08"
        );
    }

    #[test]
    fn sums_without_wrapping() {
        assert_eq!(
            Fen::checked_sum([Fen::from_fen(1), Fen::from_fen(2)]),
            Some(Fen::from_fen(3))
        );
        assert_eq!(
            Fen::checked_sum([Fen::from_fen(i64::MAX), Fen::from_fen(1)]),
            None
        );
    }

    #[test]
    fn crypto_amounts_are_exact() {
        let a = CryptoAmount::parse_payout("0.1").unwrap();
        let b = CryptoAmount::parse_payout("0.2").unwrap();
        assert_eq!(a.checked_add(b).unwrap().to_string(), "0.3");
        assert_eq!(
            CryptoAmount::parse_wire("0.010").unwrap().to_string(),
            "0.010"
        );
        assert_eq!(
            CryptoAmount::parse_payout("1.1234567"),
            Err(AmountError::TooManyDecimals { max: 6, found: 7 })
        );
        assert_eq!(CryptoAmount::parse_payout("0"), Err(AmountError::Zero));
        assert_eq!(CryptoAmount::parse_payout("-1"), Err(AmountError::Negative));
        assert_eq!(
            CryptoAmount::parse_payout("1e3"),
            Err(AmountError::Exponent)
        );
        assert!(CryptoAmount::parse_wire("0").unwrap().is_zero());
        assert_eq!(
            CryptoAmount::parse_payout("¥5"),
            Err(AmountError::InvalidCharacter('¥'))
        );
    }

    /// Reads capital numerals back (tests only), to check the writer by round trip. The
    /// writer's sections strictly decrease (亿亿, 万亿, 亿, 万), so each multiplies what
    /// came since the previous one.
    fn parse_capital(text: &str) -> i64 {
        let (negative, text) = text.strip_prefix('负').map_or((false, text), |t| (true, t));
        let chars: Vec<char> = text.chars().collect();
        let (mut total, mut section, mut digit, mut fen) = (0i128, 0i128, 0i128, 0i128);
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let pair: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let section_unit = match pair.as_str() {
                "亿亿" => Some((10i128.pow(16), 2)),
                "万亿" => Some((10i128.pow(12), 2)),
                _ if c == '亿' => Some((10i128.pow(8), 1)),
                _ if c == '万' => Some((10i128.pow(4), 1)),
                _ => None,
            };
            if let Some((unit, len)) = section_unit {
                total += (section + digit) * unit;
                section = 0;
                digit = 0;
                i += len;
                continue;
            }
            if let Some(d) = CAPITAL_DIGITS.iter().position(|x| *x == c) {
                digit = d as i128;
            } else {
                match c {
                    '拾' => section += digit * 10,
                    '佰' => section += digit * 100,
                    '仟' => section += digit * 1000,
                    '元' => {
                        total += section + digit;
                        section = 0;
                    }
                    '角' => fen += digit * 10,
                    '分' => fen += digit,
                    '整' => {}
                    other => panic!("unexpected {other} in {text}"),
                }
                if c != '整' {
                    digit = 0;
                }
            }
            i += 1;
        }
        let v = i64::try_from(total * 100 + fen).unwrap();
        if negative { -v } else { v }
    }

    #[test]
    fn capital_numerals_follow_the_bill_rules() {
        let cases = [
            (123_456, "壹仟贰佰叁拾肆元伍角陆分"),
            (10_000_000, "壹拾万元整"),
            (140_902, "壹仟肆佰零玖元零贰分"),
            (168_032, "壹仟陆佰捌拾元叁角贰分"),
            (100_001_000, "壹佰万零壹拾元整"),
            (1_000_500, "壹万零伍元整"),
            (56, "伍角陆分"),
            (50, "伍角整"),
            (5, "伍分"),
            (0, "零元整"),
            (100, "壹元整"),
            (1_000_000_000_000, "壹佰亿元整"),
            (10_000_000_100, "壹亿元零壹元整"),
            (-3200, "负叁拾贰元整"),
            (10_000_000_000_000_000, "壹佰万亿元整"),
            (1_000_000_000_000_000_000, "壹亿亿元整"),
        ];
        for (fen, want) in cases {
            if fen == 10_000_000_100 {
                continue;
            }
            assert_eq!(Fen::from_fen(fen).capital_numerals(), want, "{fen}");
        }
        assert_eq!(
            Fen::from_fen(10_000_000_100).capital_numerals(),
            "壹亿零壹元整"
        );
        assert_eq!(
            Fen::from_fen(i64::MAX).capital_numerals().chars().last(),
            Some('分')
        );
    }

    #[test]
    fn capital_numerals_are_exhaustively_well_formed() {
        for fen in 0..=2_000_000 {
            let text = Fen::from_fen(fen).capital_numerals();
            assert_eq!(parse_capital(&text), fen, "{text}");
            assert!(
                !text.contains("零零") && !text.contains("零元") || fen == 0,
                "{text}"
            );
            assert!(text.ends_with('整') || text.ends_with('分'), "{text}");
        }
    }

    proptest! {
        #[test]
        fn capital_numerals_round_trip(fen in i64::MIN + 1..=i64::MAX) {
            prop_assert_eq!(parse_capital(&Fen::from_fen(fen).capital_numerals()), fen);
        }

        #[test]
        fn fen_round_trips_through_yuan_text(fen in 0i64..=i64::MAX) {
            let f = Fen::from_fen(fen);
            prop_assert_eq!(Fen::parse_yuan(&f.yuan_grouped(), Zero::Allowed), Ok(f));
            prop_assert_eq!(Fen::parse_yuan(&f.yuan_plain(), Zero::Allowed), Ok(f));
            prop_assert_eq!(Fen::parse_yuan(&f.to_string(), Zero::Allowed), Ok(f));
        }

        #[test]
        fn any_text_parses_or_explains(s in "\\PC{0,24}") {
            let _ = Fen::parse_yuan(&s, Zero::Refused);
            let _ = CryptoAmount::parse_payout(&s);
        }

        #[test]
        fn crypto_round_trips(whole in 0u64..10_000_000_000, frac in 0u32..1_000_000) {
            let text = format!("{whole}.{frac:06}");
            let a = CryptoAmount::parse_wire(&text).unwrap();
            prop_assert_eq!(a.to_string(), text);
        }
    }
}
