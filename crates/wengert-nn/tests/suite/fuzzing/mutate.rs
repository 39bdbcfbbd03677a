//! The mutators: bit flips, byte replacements, truncations, insertions, deleted and
//! duplicated ranges, runs of one byte, header fields set to huge values, and digit runs
//! replaced by huge or odd numerals; one to three of them stacked on a real input.

/// SplitMix64: a small seeded generator, so that an input is a function of its seed alone.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A number in `0..=n`.
    pub fn up_to(&mut self, n: usize) -> usize {
        (self.next_u64() % (n as u64 + 1)) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A fixed-width unsigned header field of a format, counted from the start or the end.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    /// Byte offset from the start, or (if `from_end`) from the end.
    pub offset: usize,
    pub from_end: bool,
    /// 1, 4 or 8 bytes.
    pub width: usize,
    pub big_endian: bool,
}

impl Field {
    pub const fn be32(name: &'static str, offset: usize) -> Field {
        Field { name, offset, from_end: false, width: 4, big_endian: true }
    }
    pub const fn le32(name: &'static str, offset: usize) -> Field {
        Field { name, offset, from_end: false, width: 4, big_endian: false }
    }
    pub const fn le64(name: &'static str, offset: usize) -> Field {
        Field { name, offset, from_end: false, width: 8, big_endian: false }
    }
    pub const fn le32_from_end(name: &'static str, offset: usize) -> Field {
        Field { name, offset, from_end: true, width: 4, big_endian: false }
    }
}

/// A real input to mutate, with its format's header fields.
pub struct Sample {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub fields: Vec<Field>,
}

/// Bytes that mean something to one of the formats: separators, signs, digits, quotes and
/// brackets of JSON, the gzip magic, and the extremes.
const INTERESTING: &[u8] = b"\x00\xff\x7f\x80\x1f\x8b,\n\r \t\"\\-+.eE09{}[]:";

/// Numerals that break parsers: past every integer width, past f32 and f64, signs, NaN.
const ODD_NUMERALS: &[&str] = &[
    "4294967295",
    "4294967296",
    "2147483648",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999",
    "1e39",
    "1e309",
    "-1",
    "-0",
    "NaN",
    "inf",
    "0.5",
    "1e-45",
    "0x10",
    "",
];

/// `sample`'s bytes with one to three mutations, and a description of each.
pub fn mutate(sample: &Sample, rng: &mut Rng) -> (Vec<u8>, Vec<String>) {
    let mut bytes = sample.bytes.clone();
    let count = [1, 1, 1, 2, 2, 3][rng.below(6)];
    let descriptions = (0..count).map(|_| mutate_once(&mut bytes, &sample.fields, rng)).collect();
    (bytes, descriptions)
}

fn mutate_once(bytes: &mut Vec<u8>, fields: &[Field], rng: &mut Rng) -> String {
    let len = bytes.len();
    match rng.below(10) {
        0 | 1 if len > 0 => {
            let flips = 1 + rng.below(8);
            let mut at = Vec::new();
            for _ in 0..flips {
                let (byte, bit) = (rng.below(len), rng.below(8));
                bytes[byte] ^= 1 << bit;
                at.push(format!("{byte}.{bit}"));
            }
            format!("flip bits {}", at.join(","))
        }
        2 if len > 0 => {
            let changes = 1 + rng.below(8);
            let mut at = Vec::new();
            for _ in 0..changes {
                let byte = rng.below(len);
                let value = if rng.below(2) == 0 { *rng.pick(INTERESTING) } else { rng.next_u64() as u8 };
                bytes[byte] = value;
                at.push(format!("{byte}={value:#04x}"));
            }
            format!("set bytes {}", at.join(","))
        }
        3 => {
            // Mostly near the end, where a cut leaves most of the file; sometimes anywhere.
            let keep = if rng.below(2) == 0 { len.saturating_sub(1 + rng.below(64)) } else { rng.up_to(len) };
            bytes.truncate(keep);
            format!("truncate to {keep} bytes")
        }
        4 => {
            let at = rng.up_to(len);
            let n = 1 + rng.below(64);
            let inserted: Vec<u8> = match rng.below(3) {
                0 => (0..n).map(|_| rng.next_u64() as u8).collect(),
                1 => (0..n).map(|_| *rng.pick(INTERESTING)).collect(),
                _ => vec![*rng.pick(INTERESTING); n],
            };
            bytes.splice(at..at, inserted);
            format!("insert {n} bytes at {at}")
        }
        5 if len > 0 => {
            let (start, end) = range(rng, len);
            let at = rng.up_to(len);
            let copy = bytes[start..end].to_vec();
            let times = 1 + rng.below(3);
            for _ in 0..times {
                bytes.splice(at..at, copy.iter().copied());
            }
            format!("duplicate bytes {start}..{end} {times} times at {at}")
        }
        6 if len > 0 => {
            let (start, end) = range(rng, len);
            bytes.drain(start..end);
            format!("delete bytes {start}..{end}")
        }
        7 if len > 0 => {
            let (start, end) = range(rng, len);
            let value = *rng.pick(INTERESTING);
            bytes[start..end].fill(value);
            format!("fill bytes {start}..{end} with {value:#04x}")
        }
        8 if !fields.is_empty() => huge_field(bytes, rng.pick(fields), rng),
        _ => odd_numeral(bytes, rng),
    }
}

/// A range of `bytes`, short (up to 16) or long (up to the whole input) in equal measure.
fn range(rng: &mut Rng, len: usize) -> (usize, usize) {
    let start = rng.below(len);
    let most = if rng.below(2) == 0 { 16 } else { len };
    let end = (start + 1 + rng.below(most)).min(len);
    (start, end)
}

/// Sets a header field to a huge or edge value.
fn huge_field(bytes: &mut [u8], field: &Field, rng: &mut Rng) -> String {
    let Some(start) = (if field.from_end { bytes.len().checked_sub(field.offset) } else { Some(field.offset) }) else {
        return format!("field {} is past the end", field.name);
    };
    let Some(place) = bytes.get_mut(start..start + field.width) else {
        return format!("field {} is past the end", field.name);
    };
    let width_max = if field.width == 8 { u64::MAX } else { (1_u64 << (8 * field.width)) - 1 };
    let value = match rng.below(8) {
        0 => width_max,
        1 => width_max / 2 + 1, // 2^31 for 4 bytes: the sign bit
        2 => width_max / 2,
        3 => 1 << (4 * field.width), // 2^16 for 4 bytes, 2^32 for 8
        4 => 0,
        5 => 100_000_001 & width_max, // past safetensors' 100 MB header limit
        _ => rng.next_u64() & width_max,
    };
    let mut encoded = value.to_le_bytes()[..field.width].to_vec();
    if field.big_endian {
        encoded.reverse();
    }
    place.copy_from_slice(&encoded);
    format!("set field {} to {value}", field.name)
}

/// Replaces a run of ASCII digits (a CSV cell, a JSON offset or dimension, a flag's value)
/// with an odd numeral; inserts one if there is no digit.
fn odd_numeral(bytes: &mut Vec<u8>, rng: &mut Rng) -> String {
    let numeral = *rng.pick(ODD_NUMERALS);
    let digits: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i].is_ascii_digit()).collect();
    if digits.is_empty() {
        let at = rng.up_to(bytes.len());
        bytes.splice(at..at, numeral.bytes());
        return format!("insert {numeral:?} at {at}");
    }
    let mut start = *rng.pick(&digits);
    while start > 0 && bytes[start - 1].is_ascii_digit() {
        start -= 1;
    }
    let end = start + bytes[start..].iter().take_while(|b| b.is_ascii_digit()).count();
    bytes.splice(start..end, numeral.bytes());
    format!("replace the number at {start}..{end} by {numeral:?}")
}
