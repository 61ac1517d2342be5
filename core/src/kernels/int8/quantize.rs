//! QUANTIZE (f32 → int8) and DEQUANTIZE (int8 → f32), the two conversions at a quantized
//! model's edges.
//!
//! Spec: tensorflow/lite/kernels/internal/reference/quantize.h (`AffineQuantize`, used by
//! quantize.cc for `kReference`) and reference/integer_ops/dequantize.h (`Dequantize`,
//! used by dequantize.h for int8 and `kReference`). TFLM uses the same functions.
//! These are the two kernels that compute in floating point by definition.

/// TFLite's `AffineQuantize` for int8:
/// `q = clamp((int32_t)roundf(x / scale) + zero_point, −128, 127)`, the division in f32
/// and `roundf` rounding ties away from zero.
///
/// Values whose rounded quotient is outside the int32 range, and NaN, make the C cast
/// undefined; kiln reproduces what the x86-64 build of LiteRT does there (the
/// conversion yields `INT32_MIN`, then the zero point is added with wrap-around), so
/// `+∞` and NaN give −128 for a zero point ≥ 0 (and 127 for a negative one).
///
/// # Slice-length contract
/// `input.len() == output.len()`. Debug builds assert it; release builds return without
/// writing `output`.
pub fn quantize(input: &[f32], scale: f32, zero_point: i32, output: &mut [i8]) {
    let ok = input.len() == output.len();
    debug_assert!(ok, "int8 quantize: slice lengths break the contract");
    if !ok {
        return;
    }
    for (q, &x) in output.iter_mut().zip(input) {
        let r = libm::roundf(x / scale);
        // cvttss2si: NaN and out-of-range give 0x8000_0000
        let i = if (-2_147_483_648.0..2_147_483_648.0).contains(&r) {
            r as i32
        } else {
            i32::MIN
        };
        *q = i.wrapping_add(zero_point).clamp(-128, 127) as i8;
    }
}

/// TFLite's int8 `Dequantize`: `x = (float)((double)scale · (q − zero_point))`.
///
/// For `|q − zero_point| < 2^24` (every valid int8 zero point) the f64 product is exact,
/// so one f32 multiply gives the same bits and is what runs; otherwise the product is
/// formed in f64 as TFLite does.
///
/// # Slice-length contract
/// `input.len() == output.len()`. Debug builds assert it; release builds return without
/// writing `output`.
pub fn dequantize(input: &[i8], scale: f32, zero_point: i32, output: &mut [f32]) {
    let ok = input.len() == output.len();
    debug_assert!(ok, "int8 dequantize: slice lengths break the contract");
    if !ok {
        return;
    }
    for (x, &q) in output.iter_mut().zip(input) {
        let d = i32::from(q).wrapping_sub(zero_point);
        *x = if d.unsigned_abs() < 1 << 24 {
            scale * d as f32
        } else {
            (scale as f64 * d as f64) as f32
        };
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::vectors;
    use super::*;
    use std::vec;

    #[test]
    fn quantize_by_hand() {
        let mut q = [0i8; 9];
        quantize(
            &[0.0, 0.25, -0.25, 0.75, -0.75, 100.0, -100.0, 0.1, -0.3],
            0.5,
            -3,
            &mut q,
        );
        // 0.5 → 1 and −0.5 → −1 (ties away), 1.5 → 2, −1.5 → −2
        assert_eq!(q, [-3, -2, -4, -1, -5, 127, -128, -3, -4]);
        quantize(
            &[f32::INFINITY, f32::NAN, -f32::INFINITY, 3e9],
            1.0,
            5,
            &mut q[..4],
        );
        assert_eq!(&q[..4], &[-128, -128, -128, -128]);
        quantize(
            &[f32::INFINITY, f32::NAN, -f32::INFINITY],
            1.0,
            -5,
            &mut q[..3],
        );
        assert_eq!(&q[..3], &[127, 127, 127]);
    }

    #[test]
    fn dequantize_by_hand_and_f32_equals_f64() {
        let mut x = [0f32; 3];
        dequantize(&[-128, 0, 127], 0.1, 3, &mut x);
        assert_eq!(x, [0.1 * -131.0, 0.1 * -3.0, 0.1 * 124.0]);
        // the f32 product equals TFLite's rounded f64 product for every int8 difference
        for scale in [0.1f32, 1.0 / 3.0, 7.389_056e-5, 1e-38, 3.0e38, 1.17e-40] {
            for q in -128i32..=127 {
                for zp in [-128, -1, 0, 77, 127] {
                    let mut y = [0f32];
                    dequantize(&[q as i8], scale, zp, &mut y);
                    let want = (scale as f64 * (q - zp) as f64) as f32;
                    assert_eq!(y[0].to_bits(), want.to_bits(), "{scale} {q} {zp}");
                }
            }
        }
        dequantize(&[0], 1.0, i32::MIN, &mut x[..1]);
        assert_eq!(x[0], -2_147_483_648.0); // C: 0 − INT32_MIN wraps
    }

    #[test]
    fn litert_reference_vectors() {
        for v in vectors::QUANTIZE {
            let mut q = vec![0i8; v.quantized.len()];
            quantize(v.real, v.scale, v.zero_point, &mut q);
            assert_eq!(q, v.quantized, "{} quantize", v.name);
        }
        for v in vectors::DEQUANTIZE {
            let mut x = vec![0f32; v.real.len()];
            dequantize(v.quantized, v.scale, v.zero_point, &mut x);
            for (a, b) in x.iter().zip(v.real) {
                assert_eq!(a.to_bits(), b.to_bits(), "{} dequantize", v.name);
            }
        }
    }
}
