//! The inner loop of Dense and Conv2D: a block of eight sums, each adding one weight per
//! row times that row's input, `sums[k] += x[i] * w[i * stride + k]` for `i = 0, 1, …`.
//!
//! [`portable`] is plain Rust. On Cortex-M with a hardware FPU (`eabihf` targets),
//! [`block8`] runs the same operations through `asm!`: the sums stay in `s0`–`s7`, each
//! row's eight weights come in with one `vldmia` (one instruction, nine cycles on a
//! Cortex-M4), and each sum takes one `vmla.f32`, which rounds the product and then the
//! sum, as `x * w` then `+` do. So the bits are the same as [`portable`]'s, in the same
//! order; the firmware tests on QEMU compare the two on random data and whole models.

/// Sums computed together.
pub const BLOCK: usize = 8;

/// Where the rows of a block are: `runs` runs of `run_len` consecutive inputs, run `r`
/// starting at `x[r * x_run]`, and its weights at rows `r * w_run ..` of `w` (each row
/// `stride` values after the one before). A Dense is one run; a convolution window is one
/// run per kernel row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rows {
    /// How many runs of consecutive rows (1 for Dense, the kernel's height for a
    /// convolution window).
    pub runs: usize,
    /// Rows (input values) in each run.
    pub run_len: usize,
    /// Distance in `x` from one run's first input to the next's.
    pub x_run: usize,
    /// Distance in rows of `w` from one run's first row to the next's.
    pub w_run: usize,
    /// Values of `w` from one row to the next (the layer's output channels).
    pub stride: usize,
}

impl Rows {
    /// One run of `len` rows.
    pub fn one(len: usize, stride: usize) -> Rows {
        Rows {
            runs: 1,
            run_len: len,
            x_run: len,
            w_run: len,
            stride,
        }
    }

    /// True when `x` and `w` hold every row (and the runs are in order), without overflow.
    /// In `u64`: on the 32-bit targets the asm runs on, no product of two sizes overflows,
    /// so this costs a few multiplies per block.
    #[inline(always)]
    fn fit(&self, x: &[f32], w: &[f32]) -> bool {
        let wide = |n: usize| n as u64;
        let Some(last) = self.runs.checked_sub(1) else {
            return false;
        };
        let (last, run_len) = (wide(last), wide(self.run_len));
        let x_end = last
            .checked_mul(wide(self.x_run))
            .and_then(|v| v.checked_add(run_len));
        let w_rows = last
            .checked_mul(wide(self.w_run))
            .and_then(|v| v.checked_add(run_len));
        let w_end = w_rows
            .and_then(|r| r.checked_sub(1))
            .and_then(|r| r.checked_mul(wide(self.stride)))
            .and_then(|v| v.checked_add(BLOCK as u64));
        let (Some(x_end), Some(w_end)) = (x_end, w_end) else {
            return false;
        };
        self.run_len >= 1
            && self.x_run >= self.run_len
            && self.w_run >= self.run_len
            && self.stride >= BLOCK
            && wide(x.len()) >= x_end
            && wide(w.len()) >= w_end
            && w_end <= u64::from(u32::MAX) / 4
    }
}

/// `sums[k] += x * w[k]` over every row of `rows`, in row order: plain Rust.
pub fn portable(sums: &mut [f32; BLOCK], x: &[f32], w: &[f32], rows: Rows) {
    if !rows.fit(x, w) {
        return;
    }
    for r in 0..rows.runs {
        let xs = &x[r * rows.x_run..r * rows.x_run + rows.run_len];
        let ws = &w[r * rows.w_run * rows.stride..];
        for (&x, row) in xs.iter().zip(ws.chunks(rows.stride)) {
            if let Some(w) = row.first_chunk::<BLOCK>() {
                for k in 0..BLOCK {
                    sums[k] += x * w[k];
                }
            }
        }
    }
}

/// [`portable`], as fast as the target allows; the same bits. Rows that `x` or `w` do not
/// hold whole leave `sums` as they are (callers pass whole rows).
#[inline(always)]
pub fn block8(sums: &mut [f32; BLOCK], x: &[f32], w: &[f32], rows: Rows) {
    #[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
    if rows.fit(x, w) {
        arm::block8(sums, x, w, rows);
    }
    #[cfg(not(all(target_arch = "arm", target_abi = "eabihf")))]
    portable(sums, x, w, rows);
}

#[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
#[allow(unsafe_code)]
mod arm {
    use super::{Rows, BLOCK};
    use core::arch::asm;

    /// See [`super::block8`]; `rows.fit(x, w)` holds. Two rows per turn of the inner
    /// loop, then the odd one; each sum still takes its rows in order.
    #[inline(always)]
    pub(super) fn block8(sums: &mut [f32; BLOCK], x: &[f32], w: &[f32], rows: Rows) {
        // The loop's constants, read from memory to leave registers for the loop.
        let words: [usize; 4] = [
            sums.as_mut_ptr() as usize,
            rows.run_len,
            (rows.x_run - rows.run_len) * 4,
            (rows.w_run - rows.run_len) * rows.stride * 4,
        ];
        // SAFETY: `rows.fit(x, w)` proved that run `r < runs` reads `x[r * x_run ..][..
        // run_len]` and, for each of its rows `i`, `w[(r * w_run + i) * stride ..][..BLOCK]`,
        // all inside `x` and `w`; the asm reads exactly those (the pointers advance by a
        // row, then jump by the gaps in `words`), reads `words`, and reads and writes the
        // BLOCK values of `sums`. It touches no other memory and no stack; every register
        // it changes is declared (s16–s31 are callee-saved: the compiler saves them).
        unsafe {
            asm!(
                "ldr {t}, [{p}]",
                "vldmia {t}, {{s0-s7}}",
                "1:",
                "ldr {t}, [{p}, #4]",
                "lsrs {pairs}, {t}, #1",
                "beq 3f",
                "2:",
                "vldmia {x}!, {{s8-s9}}",
                "vldmia {w}, {{s16-s23}}",
                "add {w}, {w}, {stride}",
                "vldmia {w}, {{s24-s31}}",
                "add {w}, {w}, {stride}",
                "vmla.f32 s0, s8, s16",
                "vmla.f32 s1, s8, s17",
                "vmla.f32 s2, s8, s18",
                "vmla.f32 s3, s8, s19",
                "vmla.f32 s4, s8, s20",
                "vmla.f32 s5, s8, s21",
                "vmla.f32 s6, s8, s22",
                "vmla.f32 s7, s8, s23",
                "vmla.f32 s0, s9, s24",
                "vmla.f32 s1, s9, s25",
                "vmla.f32 s2, s9, s26",
                "vmla.f32 s3, s9, s27",
                "vmla.f32 s4, s9, s28",
                "vmla.f32 s5, s9, s29",
                "vmla.f32 s6, s9, s30",
                "vmla.f32 s7, s9, s31",
                "subs {pairs}, {pairs}, #1",
                "bne 2b",
                "3:",
                "tst {t}, #1",
                "beq 4f",
                "vldmia {x}!, {{s8}}",
                "vldmia {w}, {{s16-s23}}",
                "add {w}, {w}, {stride}",
                "vmla.f32 s0, s8, s16",
                "vmla.f32 s1, s8, s17",
                "vmla.f32 s2, s8, s18",
                "vmla.f32 s3, s8, s19",
                "vmla.f32 s4, s8, s20",
                "vmla.f32 s5, s8, s21",
                "vmla.f32 s6, s8, s22",
                "vmla.f32 s7, s8, s23",
                "4:",
                "ldr {t}, [{p}, #8]",
                "add {x}, {x}, {t}",
                "ldr {t}, [{p}, #12]",
                "add {w}, {w}, {t}",
                "subs {runs}, {runs}, #1",
                "bne 1b",
                "ldr {t}, [{p}]",
                "vstmia {t}, {{s0-s7}}",
                p = in(reg) words.as_ptr(),
                x = inout(reg) x.as_ptr() => _,
                w = inout(reg) w.as_ptr() => _,
                stride = in(reg) rows.stride * 4,
                runs = inout(reg) rows.runs => _,
                pairs = out(reg) _,
                t = out(reg) _,
                out("s0") _, out("s1") _, out("s2") _, out("s3") _,
                out("s4") _, out("s5") _, out("s6") _, out("s7") _,
                out("s8") _, out("s9") _,
                out("s16") _, out("s17") _, out("s18") _, out("s19") _,
                out("s20") _, out("s21") _, out("s22") _, out("s23") _,
                out("s24") _, out("s25") _, out("s26") _, out("s27") _,
                out("s28") _, out("s29") _, out("s30") _, out("s31") _,
                options(nostack),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_add_in_order() {
        let mut sums = [1.0f32; BLOCK];
        let w: [f32; 20] = core::array::from_fn(|i| i as f32);
        portable(&mut sums, &[2.0, -1.0], &w, Rows::one(2, 10));
        let want: [f32; BLOCK] = core::array::from_fn(|k| 1.0 + 2.0 * k as f32 - (10 + k) as f32);
        assert_eq!(sums, want);
        assert!(Rows::one(2, 10).fit(&[1.0, 2.0], &w));
        assert!(!Rows::one(3, 10).fit(&[1.0, 2.0, 3.0], &w));
        assert!(!Rows::one(1, 4).fit(&[1.0], &w));
    }

    #[test]
    fn runs_skip_their_gaps() {
        // Two runs of one row: x[0] and x[3]; weight rows 0 and 2 (w_run 2).
        let x = [1.0, 100.0, 100.0, 2.0];
        let w: [f32; 24] = core::array::from_fn(|i| i as f32);
        let rows = Rows {
            runs: 2,
            run_len: 1,
            x_run: 3,
            w_run: 2,
            stride: 8,
        };
        let mut sums = [0.0f32; BLOCK];
        portable(&mut sums, &x, &w, rows);
        let want: [f32; BLOCK] = core::array::from_fn(|k| k as f32 + 2.0 * (16 + k) as f32);
        assert_eq!(sums, want);
        let mut short = [0.0f32; BLOCK];
        portable(&mut short, &x[..3], &w, rows);
        assert_eq!(short, [0.0; BLOCK], "a row that is not there adds nothing");
    }
}
