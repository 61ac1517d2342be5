//! Running a prepared model (TensorFlow Lite Micro's `Invoke`): the caller's buffers are
//! checked, then every step runs, one sample at a time, in the arena. Nothing here infers
//! shapes, plans or looks up weights: [`Graph::prepare`](crate::Graph::prepare) did.

use super::prepare::{Placed, Prepared, Source};
use crate::error::Error;
use crate::graph::Storage;
use crate::kernels::SmallRng;
use crate::ops::{Rand, Run};
use crate::planner::Placement;

impl<S: Storage> Prepared<'_, S> {
    /// Keras's `predict`: `inputs[i]` holds a whole batch for model input `i` (row-major,
    /// batch first), `outputs[j]` receives model output `j`. Returns the batch size.
    pub fn predict(
        &self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        arena: &mut [u8],
    ) -> Result<usize, Error> {
        self.call(inputs, outputs, arena, &mut SmallRng::new(0))
    }

    /// A run drawing its randomness (Dropout, RandomCrop in training) from `rng`; the same
    /// seed gives the same run.
    pub fn call<'a>(
        &self,
        inputs: &[&'a [f32]],
        outputs: &mut [&mut [f32]],
        arena: &mut [u8],
        rng: &mut SmallRng,
    ) -> Result<usize, Error> {
        let batch = self.check_buffers(inputs, outputs)?;
        let given = arena.len();
        let (_, arena, _) = bytemuck::pod_align_to_mut::<u8, f32>(arena);
        if arena.len() < self.arena_f32s {
            return Err(Error::ArenaTooSmall {
                given,
                usable: arena.len() * 4,
                needed: self.arena_f32s * 4,
                declare: self.arena_bytes(),
            });
        }
        // One draw per call: a RandomCrop takes one window for the whole batch.
        let call_seed = u64::from(rng.next_u32()) << 32 | u64::from(rng.next_u32());
        let mut rand = Rand { rng, call_seed };
        for sample in 0..batch {
            let caller = |source: &Source| -> &'a [f32] {
                match *source {
                    Source::Caller { index, elements } => inputs
                        .get(index)
                        .and_then(|d| d.get(sample * elements..(sample + 1) * elements))
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
                    Source::Arena { offset, elements } => {
                        arena.get(offset..offset + elements).unwrap_or(&[])
                    }
                };
                let n = data.len();
                if let Some(dest) = out.get_mut(sample * n..(sample + 1) * n) {
                    dest.copy_from_slice(data);
                }
            }
        }
        Ok(batch)
    }

    /// Checks buffer counts and lengths; returns the batch size.
    fn check_buffers(&self, inputs: &[&[f32]], outputs: &[&mut [f32]]) -> Result<usize, Error> {
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
        let mut batch = None;
        for (i, (&(size, shape), data)) in self.inputs.iter().zip(inputs).enumerate() {
            if size == 0 || data.len() % size != 0 {
                return Err(Error::BufferLength {
                    what: "input",
                    index: i,
                    shape: shape.with_batch(None),
                    found: data.len(),
                });
            }
            let b = data.len() / size;
            match batch {
                None => batch = Some(b),
                Some(first) if first != b => return Err(Error::BatchMismatch { first, other: b }),
                _ => {}
            }
        }
        let batch = batch.unwrap_or(0);
        for (i, (&(_, shape), data)) in self.outputs.iter().zip(outputs).enumerate() {
            if Some(data.len()) != shape.sample_elements().map(|n| n * batch) {
                return Err(Error::BufferLength {
                    what: "output",
                    index: i,
                    shape: shape.with_batch(u32::try_from(batch).ok()),
                    found: data.len(),
                });
            }
        }
        Ok(batch)
    }
}

fn range(p: &Placement) -> core::ops::Range<usize> {
    p.offset..p.offset + p.elements
}

/// Runs one step of one sample.
fn run_step<'a, S: Storage>(
    placed: &Placed<'_, S>,
    caller: &dyn Fn(&Source) -> &'a [f32],
    arena: &mut [f32],
    rand: &mut Rand<'_>,
) {
    let step = &placed.step;
    let out = range(&placed.output);
    if placed.output.in_place {
        // The output is the input's memory (the planner proved nothing else needs it).
        if let (Run::InPlace(f), Some(data)) = (step.run, arena.get_mut(out)) {
            f(&step.args, data, rand);
        }
        return;
    }
    if out.end > arena.len() {
        return;
    }
    let (low, rest) = arena.split_at_mut(out.start);
    let (output, high) = rest.split_at_mut(out.end - out.start);
    let mut slices: S::Few<&[f32]> = Default::default();
    for source in placed.inputs.iter() {
        let slice = match *source {
            Source::Caller { .. } => caller(source),
            // The planner never overlaps an input with its output.
            Source::Arena { offset, elements } if offset + elements <= out.start => {
                low.get(offset..offset + elements).unwrap_or(&[])
            }
            Source::Arena { offset, elements } if offset >= out.end => high
                .get(offset - out.end..offset - out.end + elements)
                .unwrap_or(&[]),
            Source::Arena { .. } => &[],
        };
        let _ = crate::graph::List::push(&mut slices, slice);
    }
    match step.run {
        Run::Nothing => {}
        Run::Compute(f) => f(&step.args, &slices, output, rand),
        Run::Copy | Run::InPlace(_) => {
            if let Some(input) = slices.first() {
                if input.len() == output.len() {
                    output.copy_from_slice(input);
                }
            }
            if let Run::InPlace(f) = step.run {
                f(&step.args, output, rand);
            }
        }
    }
}
