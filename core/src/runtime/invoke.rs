//! Running a prepared model (TensorFlow Lite Micro's `Invoke`): the caller's buffers are
//! checked, then every step runs, one sample at a time, in the arena. Nothing here infers
//! shapes, plans or looks up weights: [`Graph::prepare`](crate::Graph::prepare) did.

use super::prepare::{Placed, Prepared, Source};
use crate::error::Error;
use crate::graph::{Element, Storage};
use crate::kernels::Cells;
use crate::kernels::SmallRng;
use crate::ops::{Rand, Run};
use crate::planner::{Placement, ARENA_ALIGN};

impl<S: Storage> Prepared<'_, S> {
    /// Keras's `predict`: `inputs[i]` holds a whole batch for model input `i` (row-major,
    /// batch first), `outputs[j]` receives model output `j`. Returns the batch size. The
    /// element type `T` is the model's inputs' and outputs' dtype (`f32` for a float
    /// model).
    pub fn predict<T: Element>(
        &self,
        inputs: &[&[T]],
        outputs: &mut [&mut [T]],
        arena: &mut [u8],
    ) -> Result<usize, Error> {
        self.call(inputs, outputs, arena, &mut SmallRng::new(0))
    }

    /// A run drawing its randomness (Dropout, RandomCrop in training) from `rng`; the same
    /// seed gives the same run.
    #[inline(never)]
    pub fn call<'a, T: Element>(
        &self,
        inputs: &[&'a [T]],
        outputs: &mut [&mut [T]],
        arena: &mut [u8],
        rng: &mut SmallRng,
    ) -> Result<usize, Error> {
        let batch = self.check_buffers(inputs, outputs)?;
        let given = arena.len();
        let skip = arena.as_ptr().align_offset(ARENA_ALIGN).min(given);
        let arena = &mut arena[skip..];
        if arena.len() < self.plan_bytes {
            return Err(Error::ArenaTooSmall {
                given,
                usable: arena.len(),
                needed: self.plan_bytes,
                declare: self.arena_bytes(),
            });
        }
        // One draw per call: a RandomCrop takes one window for the whole batch.
        let call_seed = u64::from(rng.next_u32()) << 32 | u64::from(rng.next_u32());
        let mut rand = Rand { rng, call_seed };
        for sample in 0..batch {
            let caller = |source: &Source| -> &'a [u8] {
                match *source {
                    Source::Caller { index, bytes } => inputs
                        .get(index)
                        .and_then(|d| bytes_of(d).get(sample * bytes..(sample + 1) * bytes))
                        .unwrap_or(&[]),
                    Source::Arena { .. } => &[],
                }
            };
            for placed in self.steps.iter() {
                run_step(placed, &caller, arena, &mut rand);
            }
            for ((source, _), out) in self.outputs.iter().zip(outputs.iter_mut()) {
                let data = match *source {
                    Source::Caller { .. } => caller(source),
                    Source::Arena { offset, bytes } => {
                        arena.get(offset..offset + bytes).unwrap_or(&[])
                    }
                };
                let n = data.len();
                let out: &mut [u8] = bytemuck::try_cast_slice_mut(out).unwrap_or(&mut []);
                if let Some(dest) = out.get_mut(sample * n..(sample + 1) * n) {
                    dest.copy_from_slice(data);
                }
            }
        }
        Ok(batch)
    }

    /// Checks buffer counts, dtypes and lengths; returns the batch size.
    fn check_buffers<T: Element>(
        &self,
        inputs: &[&[T]],
        outputs: &[&mut [T]],
    ) -> Result<usize, Error> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::BufferCount {
                what: "input",
                expected: self.inputs.len(),
                found: inputs.len(),
            });
        }
        if outputs.len() != self.outputs.len() {
            return Err(Error::BufferCount {
                what: "output",
                expected: self.outputs.len(),
                found: outputs.len(),
            });
        }
        let ios = self.inputs.iter().map(|io| ("input", io));
        let all = ios.chain(self.outputs.iter().map(|(_, io)| ("output", io)));
        for (index, (what, io)) in all.enumerate() {
            if io.dtype != T::DTYPE {
                return Err(Error::BufferDType {
                    what,
                    index: index.checked_sub(self.inputs.len()).unwrap_or(index),
                    expected: io.dtype,
                    found: T::DTYPE,
                });
            }
        }
        let mut batch = None;
        for (i, (io, data)) in self.inputs.iter().zip(inputs).enumerate() {
            if io.elements == 0 || data.len() % io.elements != 0 {
                return Err(Error::BufferLength {
                    what: "input",
                    index: i,
                    shape: io.shape.with_batch(None),
                    found: data.len(),
                });
            }
            let b = data.len() / io.elements;
            match batch {
                None => batch = Some(b),
                Some(first) if first != b => return Err(Error::BatchMismatch { first, other: b }),
                _ => {}
            }
        }
        let batch = batch.unwrap_or(0);
        for (i, ((_, io), data)) in self.outputs.iter().zip(outputs).enumerate() {
            if Some(data.len()) != io.elements.checked_mul(batch) {
                return Err(Error::BufferLength {
                    what: "output",
                    index: i,
                    shape: io.shape.with_batch(u32::try_from(batch).ok()),
                    found: data.len(),
                });
            }
        }
        Ok(batch)
    }
}

/// The bytes of a caller's buffer (any element type is plain bytes).
fn bytes_of<T: Element>(data: &[T]) -> &[u8] {
    bytemuck::try_cast_slice(data).unwrap_or(&[])
}

fn range(p: &Placement) -> core::ops::Range<usize> {
    p.offset..p.offset + p.bytes
}

/// Runs one step of one sample. Its tensors are bytes in the arena (aligned for any
/// dtype: the planner places them so) or the caller's buffers; a step sees them in its
/// own element types.
pub(crate) fn run_step<'a, S: Storage>(
    placed: &Placed<'_, S>,
    caller: &dyn Fn(&Source) -> &'a [u8],
    arena: &mut [u8],
    rand: &mut Rand<'_>,
) {
    let step = &placed.step;
    let out = range(&placed.output);
    if let (true, Some(&Source::Arena { offset, bytes })) =
        (placed.output.in_place, placed.inputs.first())
    {
        // A pool's output is written over the start of its input's memory.
        let data = arena.get_mut(offset..offset + bytes);
        match (step.run, data) {
            (Run::Pool(f), Some(data)) => {
                if let Ok(data) = bytemuck::try_cast_slice_mut(data) {
                    f(&step.args, Cells::Shared(data));
                }
                return;
            }
            (Run::Int8Pool(f), Some(data)) => {
                f(&step.args, Cells::Shared(bytemuck::cast_slice_mut(data)));
                return;
            }
            _ => {}
        }
    }
    if placed.output.in_place {
        // The output is the input's memory (the planner proved nothing else needs it).
        let Some(data) = arena.get_mut(out) else {
            return;
        };
        match step.run {
            Run::InPlace(f) => {
                if let Ok(data) = bytemuck::try_cast_slice_mut(data) {
                    f(&step.args, data, rand);
                }
            }
            Run::Int8InPlace(f) => f(&step.args, bytemuck::cast_slice_mut(data)),
            _ => {}
        }
        return;
    }
    if out.end > arena.len() {
        return;
    }
    let (low, rest) = arena.split_at_mut(out.start);
    let (output, high) = rest.split_at_mut(out.end - out.start);
    let mut inputs: S::Few<&[u8]> = Default::default();
    for source in placed.inputs.iter() {
        let bytes = match *source {
            Source::Caller { .. } => caller(source),
            // The planner never overlaps an input with its output.
            Source::Arena { offset, bytes } if offset + bytes <= out.start => {
                low.get(offset..offset + bytes).unwrap_or(&[])
            }
            Source::Arena { offset, bytes } if offset >= out.end => high
                .get(offset - out.end..offset - out.end + bytes)
                .unwrap_or(&[]),
            Source::Arena { .. } => &[],
        };
        let _ = crate::graph::List::push(&mut inputs, bytes);
    }
    let first = inputs.first().copied().unwrap_or(&[]);
    match step.run {
        Run::Nothing => {}
        Run::Compute(f) => {
            if let Ok(output) = bytemuck::try_cast_slice_mut(output) {
                f(&step.args, &typed::<f32, S>(&inputs), output, rand);
            }
        }
        Run::Int8(f) => f(
            &step.args,
            &typed::<i8, S>(&inputs),
            bytemuck::cast_slice_mut(output),
        ),
        Run::Pool(f) => {
            if let (Ok(input), Ok(output)) = (
                bytemuck::try_cast_slice(first),
                bytemuck::try_cast_slice_mut(output),
            ) {
                f(&step.args, Cells::Split { input, output });
            }
        }
        Run::Int8Pool(f) => f(
            &step.args,
            Cells::Split {
                input: bytemuck::cast_slice(first),
                output: bytemuck::cast_slice_mut(output),
            },
        ),
        Run::Quantize(f) => {
            if let Ok(input) = bytemuck::try_cast_slice(first) {
                f(&step.args, input, bytemuck::cast_slice_mut(output));
            }
        }
        Run::Dequantize(f) => {
            if let Ok(output) = bytemuck::try_cast_slice_mut(output) {
                f(&step.args, bytemuck::cast_slice(first), output);
            }
        }
        Run::Copy | Run::InPlace(_) | Run::Int8InPlace(_) => {
            if first.len() == output.len() {
                output.copy_from_slice(first);
            }
            match step.run {
                Run::InPlace(f) => {
                    if let Ok(output) = bytemuck::try_cast_slice_mut(output) {
                        f(&step.args, output, rand);
                    }
                }
                Run::Int8InPlace(f) => f(&step.args, bytemuck::cast_slice_mut(output)),
                _ => {}
            }
        }
    }
}

/// A step's input bytes as slices of `T` (an empty slice where the bytes are not `T`s:
/// the planner aligns every tensor, so this does not happen).
fn typed<'b, T: Element + core::fmt::Debug + PartialEq, S: Storage>(
    inputs: &S::Few<&'b [u8]>,
) -> S::Few<&'b [T]> {
    let mut slices: S::Few<&[T]> = Default::default();
    for bytes in inputs.iter() {
        let _ =
            crate::graph::List::push(&mut slices, bytemuck::try_cast_slice(bytes).unwrap_or(&[]));
    }
    slices
}
