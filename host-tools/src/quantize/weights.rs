//! Kernels and biases quantized as TensorFlow Lite's converter quantizes them.
//!
//! * Kernel: symmetric int8 in `[−127, 127]`, zero point 0, one scale per output channel
//!   (or one for the whole kernel): `scale = max|w| / 127` in f32, `q = round(w / scale)`.
//!   An all-zero channel gets the converter's scale for it, `5e-7 / 127`.
//! * Bias: int32 at scale `s_in · s_w[c]` (the product in f32), `q = round(b / scale)`.
//!   Where that would pass `2^30` in magnitude the converter widens the channel's kernel
//!   scale until the bias is exactly `±2^30`: so does this.
//! * Layouts: Keras stores kernels with the output channel last; TensorFlow Lite's
//!   FULLY_CONNECTED takes `(units, in)` and CONV_2D `(filters, kh, kw, in)` (the output
//!   channel first); DEPTHWISE_CONV_2D's `(1, kh, kw, in · multiplier)` is Keras's
//!   `(kh, kw, in, multiplier)` in the same order.

/// Bias magnitudes the converter lets a quantized bias reach: `2^30`.
const BIAS_LIMIT: f64 = (1u64 << 30) as f64;

/// The scale of a symmetric int8 kernel whose largest magnitude is `max_abs`.
pub fn symmetric_scale(max_abs: f32) -> f32 {
    let max_abs = if max_abs > 0.0 { max_abs } else { 5e-7 };
    max_abs / 127.0
}

/// The largest magnitude of each output channel of a kernel in Keras's layout (`values`,
/// output channel fastest, `channels` of them).
pub fn channel_max_abs(values: &[f32], channels: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; channels];
    if channels == 0 {
        return out;
    }
    for (i, &v) in values.iter().enumerate() {
        let c = i % channels;
        out[c] = out[c].max(v.abs());
    }
    out
}

/// A quantized kernel and bias, in Keras's layout (output channel fastest).
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedKernel {
    pub values: Vec<i8>,
    /// One scale per output channel (all equal for a per-tensor kernel).
    pub scales: Vec<f32>,
    pub bias: Option<Vec<i32>>,
}

/// The bias quantized at `input_scale · scale` (`None`: it would pass `2^30`).
fn bias_value(b: f32, input_scale: f32, scale: f32) -> Option<i32> {
    let q = (f64::from(b) / f64::from(input_scale * scale)).round();
    (q.abs() <= BIAS_LIMIT).then_some(q as i32)
}

/// The kernel scale that puts bias `b` exactly at `±2^30`.
fn widened_scale(b: f32, input_scale: f32) -> f32 {
    (f64::from(b.abs()) / BIAS_LIMIT) as f32 / input_scale
}

/// Quantizes a kernel (Keras layout, `channels` output channels, fastest) and its bias
/// for an input quantized at `input_scale`.
pub fn quantize_kernel(
    kernel: &[f32],
    bias: Option<&[f32]>,
    channels: usize,
    per_tensor: bool,
    input_scale: f32,
) -> QuantizedKernel {
    if channels == 0 {
        return QuantizedKernel {
            values: Vec::new(),
            scales: Vec::new(),
            bias: bias.map(|_| Vec::new()),
        };
    }
    let max_abs = channel_max_abs(kernel, channels);
    let mut scales: Vec<f32> = if per_tensor {
        let all = max_abs.iter().copied().fold(0.0f32, f32::max);
        vec![symmetric_scale(all); channels]
    } else {
        max_abs.iter().map(|&m| symmetric_scale(m)).collect()
    };
    if let Some(bias) = bias {
        let widen = |s: f32, b: f32| match bias_value(b, input_scale, s) {
            Some(_) => s,
            None => widened_scale(b, input_scale).max(s),
        };
        if per_tensor {
            let s = bias.iter().fold(scales[0], |s, &b| widen(s, b));
            scales.iter_mut().for_each(|x| *x = s);
        } else {
            for (s, &b) in scales.iter_mut().zip(bias) {
                *s = widen(*s, b);
            }
        }
    }
    let values = kernel
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let q = (f64::from(w) / f64::from(scales[i % channels])).round();
            q.clamp(-127.0, 127.0) as i8
        })
        .collect();
    let bias = bias.map(|bias| {
        bias.iter()
            .zip(&scales)
            .map(|(&b, &s)| {
                let q = (f64::from(b) / f64::from(input_scale * s)).round();
                q.clamp(-BIAS_LIMIT, BIAS_LIMIT) as i32
            })
            .collect()
    });
    QuantizedKernel {
        values,
        scales,
        bias,
    }
}

/// A kernel whose output channel is its last axis (`channels` long) rearranged with it
/// first: Keras's Dense `(in, units)` to `(units, in)`, Conv2D `(kh, kw, in, filters)` to
/// `(filters, kh, kw, in)`.
pub fn channel_first<T: Copy + Default>(values: &[T], channels: usize) -> Vec<T> {
    let rest = values.len() / channels.max(1);
    let mut out = vec![T::default(); values.len()];
    for r in 0..rest {
        for c in 0..channels {
            out[c * rest + r] = values[r * channels + c];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_kernel_per_channel() {
        // Dense (in 3, units 2), Keras layout: rows are inputs.
        let kernel = [0.5, -0.1, -1.27, 0.254, 0.25, 0.05];
        let q = quantize_kernel(&kernel, Some(&[0.1, -0.3]), 2, false, 0.5);
        // channel 0: max 1.27 → scale 0.01; channel 1: max 0.254 → scale 0.002.
        assert_eq!(q.scales, [1.27f32 / 127.0, 0.254f32 / 127.0]);
        // 0.5/0.01 = 50, −1.27/0.01 = −127, 0.25/0.01 = 25; −0.1/0.002 = −50,
        // 0.254 → 127, 0.05 → 25.
        assert_eq!(q.values, [50, -50, -127, 127, 25, 25]);
        // bias at 0.5·0.01: 0.1 → 20; at 0.5·0.002: −0.3 → −300.
        assert_eq!(q.bias.unwrap(), [20, -300]);
        // TensorFlow Lite's (units, in) layout.
        assert_eq!(channel_first(&q.values, 2), [50, -127, 25, -50, 127, 25]);
    }

    #[test]
    fn a_known_kernel_per_tensor() {
        let q = quantize_kernel(&[0.5, -0.1, -1.27, 0.2], None, 2, true, 1.0);
        assert_eq!(q.scales, [0.01, 0.01]);
        assert_eq!(q.values, [50, -10, -127, 20]);
        assert!(q.bias.is_none());
    }

    #[test]
    fn a_bias_too_large_for_its_scale_widens_the_channel() {
        // A zero channel with bias −100 at input scale 0.0211: the converter's scales are
        // |b| / 2^30 for the bias and that over s_in for the kernel.
        let s_in = 9.313226e-08 / 4.688251e-06;
        let q = quantize_kernel(&[0.3, 0.0, -0.2, 0.0], Some(&[0.1, -100.0]), 2, false, s_in);
        let b = q.bias.as_ref().unwrap()[1];
        assert!((b + (1 << 30)).abs() <= 128, "{b}");
        assert!(
            (q.scales[1] - 4.688251e-06).abs() < 1e-12,
            "{}",
            q.scales[1]
        );
        assert_eq!(q.values[1], 0);
        // An all-zero channel without bias: the converter's 5e-7 / 127.
        let q = quantize_kernel(&[0.3, 0.0], Some(&[0.1, 0.0]), 2, false, 0.01);
        assert_eq!(q.scales[1], 3.937008e-09);
    }

    #[test]
    fn conv_layout_puts_the_filter_first() {
        // (kh 1, kw 2, in 1, filters 3) → (3, 1, 2, 1).
        let v = [1, 2, 3, 4, 5, 6];
        assert_eq!(channel_first(&v, 3), [1, 4, 2, 5, 3, 6]);
    }
}
