//! Int8 MEAN over height and width, fast: the contract and bits of
//! [`int8::mean`](fn@crate::kernels::int8::mean). With the DSP extension, four channels to
//! a word: `sxtab16` adds two of them to 16-bit lane sums per instruction, widened to
//! int32 every 256 cells (256 · 128 = 2^15: no lane overflows). Elsewhere, and for channel
//! counts that are not a multiple of four, the reference kernel.

use super::dsp::{self, Isa};
use crate::kernels::int8::mean::{self, MeanParams};

/// [`int8::mean`](fn@crate::kernels::int8::mean), faster: the same contract (debug
/// builds assert it, release builds return without writing) and the same output bytes.
pub fn mean(params: &MeanParams, input: &[i8], output: &mut [i8]) {
    #[cfg(kiln_dsp)]
    if output.len() % 4 == 0 {
        words::<dsp::Arm>(params, input, output);
        return;
    }
    mean::mean(params, input, output);
}

/// Cells summed in 16-bit lanes before they are widened.
const LANE_CELLS: usize = 256;

/// Four channels per word: the even channels' sums in one word of lanes, the odd ones' in
/// another, [`LANE_CELLS`] cells at a time; then each channel requantized as the reference.
#[cfg_attr(not(kiln_dsp), allow(dead_code))]
pub(crate) fn words<I: Isa>(params: &MeanParams, input: &[i8], output: &mut [i8]) {
    let channels = output.len();
    let ok = mean::fits(params, input, output) && channels % 4 == 0;
    debug_assert!(ok, "int8 mean: slice lengths break the contract");
    if !ok || channels == 0 {
        return;
    }
    let lane = |x: u32, high: bool| i32::from((if high { x >> 16 } else { x }) as u16 as i16);
    for (q, out) in output.chunks_exact_mut(4).enumerate() {
        let mut sums = [0i32; 4];
        for block in input.chunks(LANE_CELLS * channels) {
            let (mut even, mut odd) = (0u32, 0u32);
            for cell in block.chunks_exact(channels) {
                let w = cell
                    .get(4 * q..)
                    .map_or(0, |x| dsp::word(bytemuck::cast_slice(x)));
                even = I::sxtab16(even, w);
                odd = I::sxtab16_ror8(odd, w);
            }
            let block_sums = [
                lane(even, false),
                lane(odd, false),
                lane(even, true),
                lane(odd, true),
            ];
            for (s, b) in sums.iter_mut().zip(block_sums) {
                *s = s.wrapping_add(b);
            }
        }
        for (y, &sum) in out.iter_mut().zip(&sums) {
            *y = mean::requantize(params, sum);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::dsp::Emulated;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    proptest! {
        #[test]
        fn four_channels_a_word_give_the_reference_bytes(
            cells in 1usize..700, quads in 1usize..5, seed in any::<u32>(),
            extreme in 0u8..3, zp_in in -128i32..128, zp_out in -128i32..128,
            scale in 0.05f32..4.0,
        ) {
            let c = 4 * quads;
            let mut state = seed;
            // All −128 or all 127 too: the 16-bit lanes' limits.
            let input: Vec<i8> = (0..cells * c)
                .map(|_| match extreme {
                    0 => -128,
                    1 => 127,
                    _ => {
                        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        (state >> 24) as u8 as i8
                    }
                })
                .collect();
            let p = MeanParams::new(scale, zp_in, 0.5, zp_out, cells).unwrap();
            let mut want = std::vec![0i8; c];
            mean::mean(&p, &input, &mut want);
            let mut got = std::vec![0x55i8; c];
            words::<Emulated>(&p, &input, &mut got);
            prop_assert_eq!(got, want);
        }
    }
}
