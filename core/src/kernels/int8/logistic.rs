//! Int8 LOGISTIC (Keras `sigmoid`), output scale 1/256, zero point −128.
//!
//! Spec: LiteRT's `kReference` int8 LOGISTIC is a 256-entry table built in
//! tensorflow/lite/kernels/activations.cc `SigmoidPrepare` with `LUTPopulate` of
//! `1.0f / (1.0f + std::exp(-x))` (f32), applied by `SigmoidEval` →
//! `LookupTable`. TFLM instead computes reference/integer_ops/logistic.h (a
//! fixed-point approximation), which kiln does not implement.

use super::lut::Lut;

/// Output scale of an int8 LOGISTIC (TFLite requires exactly 1/256).
pub const OUTPUT_SCALE: f32 = 1.0 / 256.0;
/// Output zero point of an int8 LOGISTIC.
pub const OUTPUT_ZERO_POINT: i32 = -128;

/// The table of an int8 LOGISTIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogisticParams {
    /// The 256 outputs.
    pub lut: Lut,
}

impl LogisticParams {
    /// Number of words in [`Self::to_words`].
    pub const WORDS: usize = Lut::WORDS;

    /// Host side: the table for input quantization `(input_scale, input_zero_point)`,
    /// with f32 `1 / (1 + expf(−x))` (`libm::expf`).
    ///
    /// ```
    /// use kiln::kernels::int8::{logistic, LogisticParams};
    /// let p = LogisticParams::new(0.1, 0);
    /// let mut out = [0i8; 3];
    /// logistic(&p, &[0, 127, -128], &mut out);
    /// assert_eq!(out, [0, 127, -128]); // σ(0) = 0.5, σ(12.7) ≈ 1, σ(-12.8) ≈ 0
    /// ```
    pub fn new(input_scale: f32, input_zero_point: i32) -> Self {
        LogisticParams {
            lut: Lut::new(
                input_scale,
                input_zero_point,
                OUTPUT_SCALE,
                OUTPUT_ZERO_POINT,
                |x| 1.0 / (1.0 + libm::expf(-x)),
            ),
        }
    }

    /// The table, four entries per word (see [`Lut::to_words`]).
    pub fn to_words(&self) -> [i32; Self::WORDS] {
        self.lut.to_words()
    }

    /// Inverse of [`Self::to_words`].
    pub fn from_words(w: [i32; Self::WORDS]) -> Self {
        LogisticParams {
            lut: Lut::from_words(w),
        }
    }
}

/// Int8 logistic: a table lookup per element.
///
/// # Slice-length contract
/// `input.len() == output.len()`. Debug builds assert it; release builds return without
/// writing `output`.
pub fn logistic(params: &LogisticParams, input: &[i8], output: &mut [i8]) {
    params.lut.apply(input, output);
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::vectors;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn by_hand() {
        let p = LogisticParams::new(0.1, 0);
        let mut out = [0i8; 3];
        logistic(&p, &[0, 127, -128], &mut out);
        // σ(0) = 0.5 → 128 − 128 = 0; σ(12.7) ≈ 1 → 256 → 127; σ(−12.8) ≈ 0 → −128
        assert_eq!(out, [0, 127, -128]);
        assert_eq!(LogisticParams::from_words(p.to_words()), p);
    }

    #[test]
    fn litert_reference_vectors() {
        let input: Vec<i8> = (-128..=127).collect();
        for v in vectors::LOGISTIC {
            assert_eq!(
                (v.output_scale, v.output_zero_point),
                (OUTPUT_SCALE, OUTPUT_ZERO_POINT)
            );
            let p = LogisticParams::new(v.input_scale, v.input_zero_point);
            let mut out = vec![0i8; v.expected.len()];
            logistic(&p, &input, &mut out);
            assert_eq!(out, v.expected, "{}", v.name);
        }
    }
}
