//! A model on the host: its graph and the weights it owns.

use kiln::{Graph, Heap};

/// The graph of a model read on the host: heap storage, so any number of layers, nodes,
/// inputs and outputs, and names of any length.
pub type HostModel<'w> = Graph<'w, Heap>;

/// A graph plus the weight buffer it borrows from (every variable in its own dtype, as
/// [`Graph::weight_range`](kiln::Graph::weight_range) lays them out; for a float model,
/// Keras's `get_weights()` concatenated). The graph is stored without weights so the two
/// can live side by side.
#[derive(Clone, Debug)]
pub struct HostGraph {
    graph: HostModel<'static>,
    /// The weight bytes, in 4-byte words so that they are aligned for any dtype.
    words: Vec<u32>,
    bytes: usize,
}

impl HostGraph {
    /// A float model and its f32 weights.
    pub fn new(graph: HostModel<'static>, weights: Vec<f32>) -> Self {
        let bytes = weights.len() * 4;
        let words = weights.into_iter().map(f32::to_bits).collect();
        HostGraph {
            graph,
            words,
            bytes,
        }
    }

    /// A model and its weight bytes.
    pub fn from_bytes(graph: HostModel<'static>, weights: &[u8]) -> Self {
        let mut words = vec![0u32; weights.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..weights.len()].copy_from_slice(weights);
        HostGraph {
            graph,
            words,
            bytes: weights.len(),
        }
    }

    /// The graph without weights: enough for `summary`, `get_layer` and planning.
    pub fn structure(&self) -> &HostModel<'static> {
        &self.graph
    }

    /// True when the model came with its weights (a `.keras`, not a bare config).
    pub fn has_weights(&self) -> bool {
        self.bytes == self.graph.weight_bytes()
            && (self.graph.weight_bytes() == 0 || !self.words.is_empty())
    }

    /// The weight buffer's bytes.
    pub fn weights(&self) -> &[u8] {
        &bytemuck::cast_slice::<u32, u8>(&self.words)[..self.bytes]
    }

    /// The weights as f32 values, for a float model.
    pub fn weights_f32(&self) -> Option<&[f32]> {
        self.graph().ok()?.weights_f32()
    }

    /// The graph with its weights lent, ready for `predict`; an error for a bare config.
    pub fn graph(&self) -> Result<HostModel<'_>, kiln::Error> {
        let mut graph: HostModel<'_> = self.graph.clone();
        graph.set_weight_bytes(self.weights())?;
        Ok(graph)
    }
}
