//! The 256-entry lookup tables of LiteRT's int8 LOGISTIC and TANH
//! (tensorflow/lite/kernels/internal/common.h `LUTPopulate` / `LUTPopulateInt8`, looked
//! up by reference/integer_ops/lut.h `LookupTable`).

/// A 256-entry int8 → int8 table, indexed by the input's bit pattern
/// (`table[x as u8]`, TFLite's order `0, 1, …, 127, −128, …, −1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lut {
    /// The table.
    pub table: [i8; 256],
}

impl Lut {
    /// Number of words in [`Self::to_words`].
    pub const WORDS: usize = 64;

    /// Host side, `LUTPopulateInt8` in f32: for each `q`,
    /// `y = f(s_in · (float)(q − zp_in))`, then
    /// `(int32_t)(roundf(y · (1 / s_out)) + (float)zp_out)`, clamped to int8.
    ///
    /// ```
    /// use kiln::kernels::int8::Lut;
    /// // x / 2, from and to scale 0.1, zero point 0.
    /// let lut = Lut::new(0.1, 0, 0.1, 0, |x| x / 2.0);
    /// assert_eq!(lut.table[10], 5);
    /// assert_eq!(lut.table[-10i8 as u8 as usize], -5);
    /// ```
    pub fn new(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
        f: impl Fn(f32) -> f32,
    ) -> Lut {
        let inverse_scale = 1.0 / output_scale;
        let mut table = [0i8; 256];
        for q in -128i32..=127 {
            let dequantized = input_scale * q.wrapping_sub(input_zero_point) as f32;
            let rescaled = libm::roundf(f(dequantized) * inverse_scale);
            let quantized = (rescaled + output_zero_point as f32) as i32;
            table[usize::from(q as i8 as u8)] = quantized.clamp(-128, 127) as i8;
        }
        Lut { table }
    }

    /// Four entries per word, little-endian (entry `4k` in the low byte of word `k`).
    pub fn to_words(&self) -> [i32; Self::WORDS] {
        let mut w = [0i32; Self::WORDS];
        for (word, bytes) in w.iter_mut().zip(self.table.chunks_exact(4)) {
            *word = i32::from_le_bytes([
                bytes[0] as u8,
                bytes[1] as u8,
                bytes[2] as u8,
                bytes[3] as u8,
            ]);
        }
        w
    }

    /// Inverse of [`Self::to_words`].
    pub fn from_words(w: [i32; Self::WORDS]) -> Lut {
        let mut table = [0i8; 256];
        for (bytes, word) in table.chunks_exact_mut(4).zip(w) {
            for (b, v) in bytes.iter_mut().zip(word.to_le_bytes()) {
                *b = v as i8;
            }
        }
        Lut { table }
    }

    /// `output[i] = table[input[i] as u8]`.
    ///
    /// # Slice-length contract
    /// `input.len() == output.len()`. Debug builds assert it; release builds return
    /// without writing `output`.
    pub fn apply(&self, input: &[i8], output: &mut [i8]) {
        lookup(&self.table, input, output);
    }
}

/// `output[i] = table[input[i] as u8]` for a table as [`Lut::to_words`] stores it,
/// borrowed (from a model's weights in flash) rather than copied.
///
/// # Slice-length contract
/// `input.len() == output.len()`. Debug builds assert it; release builds return without
/// writing `output`.
pub fn lookup(table: &[i8; 256], input: &[i8], output: &mut [i8]) {
    let ok = input.len() == output.len();
    debug_assert!(ok, "int8 lookup table: slice lengths break the contract");
    if !ok {
        return;
    }
    for (y, &x) in output.iter_mut().zip(input) {
        *y = table[usize::from(x as u8)];
    }
}
