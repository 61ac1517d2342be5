//! Int8 TANH (Keras `tanh`), output scale 1/128, zero point 0.
//!
//! Spec: LiteRT's `kReference` int8 TANH is a 256-entry table built in
//! tensorflow/lite/kernels/activations.cc `TanhPrepare` with `LUTPopulate` of
//! `std::tanh(x)` (f32 `tanhf`), applied by `TanhEval` →
//! `LookupTable`. TFLM instead computes reference/integer_ops/tanh.h (a
//! fixed-point approximation), which kiln does not implement.

use super::lut::Lut;

/// Output scale of an int8 TANH (the converter sets 1/128).
pub const OUTPUT_SCALE: f32 = 1.0 / 128.0;
/// Output zero point of an int8 TANH.
pub const OUTPUT_ZERO_POINT: i32 = 0;

/// The table of an int8 TANH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TanhParams {
    /// The 256 outputs.
    pub lut: Lut,
}

impl TanhParams {
    /// Number of words in [`Self::to_words`].
    pub const WORDS: usize = Lut::WORDS;

    /// Host side: the table for input quantization `(input_scale, input_zero_point)`,
    /// with f32 `tanhf` (`libm::tanhf`).
    ///
    /// ```
    /// use kiln::kernels::int8::{tanh, TanhParams};
    /// let p = TanhParams::new(0.5, 1);
    /// let mut out = [0i8; 2];
    /// tanh(&p, &[2, 0], &mut out);
    /// assert_eq!(out, [59, -59]); // tanh(±0.5) = ±0.462, at the output's scale 1/128
    /// ```
    pub fn new(input_scale: f32, input_zero_point: i32) -> Self {
        TanhParams {
            lut: Lut::new(
                input_scale,
                input_zero_point,
                OUTPUT_SCALE,
                OUTPUT_ZERO_POINT,
                libm::tanhf,
            ),
        }
    }

    /// The table, four entries per word (see [`Lut::to_words`]).
    pub fn to_words(&self) -> [i32; Self::WORDS] {
        self.lut.to_words()
    }

    /// Inverse of [`Self::to_words`].
    pub fn from_words(w: [i32; Self::WORDS]) -> Self {
        TanhParams {
            lut: Lut::from_words(w),
        }
    }
}

/// Int8 tanh: a table lookup per element.
///
/// # Slice-length contract
/// `input.len() == output.len()`. Debug builds assert it; release builds return without
/// writing `output`.
pub fn tanh(params: &TanhParams, input: &[i8], output: &mut [i8]) {
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
        let p = TanhParams::new(0.1, 0);
        let mut out = [0i8; 3];
        tanh(&p, &[0, 127, -128], &mut out);
        // tanh(0) = 0; tanh(12.7) ≈ 1 → 128 → 127; tanh(−12.8) ≈ −1 → −128
        assert_eq!(out, [0, 127, -128]);
        let p = TanhParams::new(0.5, 1);
        tanh(&p, &[2, 0], &mut out[..2]);
        // tanh(0.5) · 128 = 59.18 → 59; tanh(−0.5) → −59
        assert_eq!(&out[..2], &[59, -59]);
        assert_eq!(TanhParams::from_words(p.to_words()), p);
    }

    #[test]
    fn litert_reference_vectors() {
        let input: Vec<i8> = (-128..=127).collect();
        for v in vectors::TANH {
            assert_eq!(
                (v.output_scale, v.output_zero_point),
                (OUTPUT_SCALE, OUTPUT_ZERO_POINT)
            );
            let p = TanhParams::new(v.input_scale, v.input_zero_point);
            let mut out = vec![0i8; v.expected.len()];
            tanh(&p, &input, &mut out);
            assert_eq!(out, v.expected, "{}", v.name);
        }
    }
}
