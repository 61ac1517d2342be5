//! What a tensor holds: its element type and, for quantized ones, how its integers map to
//! real values (TensorFlow Lite's quantization: `real = scale × (q − zero_point)`).

/// The element type of a tensor or weight variable.
///
/// The discriminants are the blob format's tags: they never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum DType {
    /// `float32`: Keras's default, every float model's tensors and weights.
    #[default]
    F32 = 0,
    /// `int8`: an int8 model's tensors and kernels (TensorFlow Lite's quantization).
    I8 = 1,
    /// `int32`: an int8 model's biases and `requant` words.
    I32 = 2,
}

impl DType {
    /// Every dtype, by tag.
    pub const ALL: [DType; 3] = [DType::F32, DType::I8, DType::I32];

    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::I8 => 1,
        }
    }

    /// The alignment, in bytes, a tensor of this type starts at.
    pub const fn align(self) -> usize {
        self.size()
    }

    /// NumPy's name (`float32`, `int8`, `int32`).
    pub const fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::I8 => "int8",
            DType::I32 => "int32",
        }
    }

    /// The dtype with blob tag `tag`.
    pub fn from_tag(tag: u8) -> Option<DType> {
        DType::ALL.get(tag as usize).copied()
    }
}

impl core::fmt::Display for DType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a quantized tensor's integers map to real values.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Quant {
    /// Not quantized (a float tensor, or an integer one taken as is).
    #[default]
    None,
    /// One scale and zero point for the whole tensor (activations, per-tensor weights).
    PerTensor {
        /// The real value of one integer step.
        scale: f32,
        /// The integer that stands for 0.0.
        zero_point: i32,
    },
    /// A scale per index along `axis`, zero points all 0 (TFLite's per-channel weights).
    /// The scales are weight variable `scales` of the same layer (f32, one per index).
    PerAxis {
        /// The axis whose indices have a scale each (the output channels).
        axis: u8,
        /// The index, among the layer's variables, of the one holding the scales.
        scales: u8,
    },
}

/// A Rust type that is the element of a tensor: `f32`, `i8` or `i32`.
pub trait Element: bytemuck::Pod {
    /// The tensor dtype this type holds.
    const DTYPE: DType;
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;
}

impl Element for i8 {
    const DTYPE: DType = DType::I8;
}

impl Element for i32 {
    const DTYPE: DType = DType::I32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_the_discriminants() {
        for (tag, dtype) in DType::ALL.iter().enumerate() {
            assert_eq!(*dtype as u8 as usize, tag);
            assert_eq!(DType::from_tag(tag as u8), Some(*dtype));
        }
        assert_eq!(DType::from_tag(3), None);
    }

    #[test]
    fn sizes_are_the_rust_types() {
        assert_eq!(DType::F32.size(), core::mem::size_of::<f32>());
        assert_eq!(DType::I8.size(), core::mem::size_of::<i8>());
        assert_eq!(DType::I32.size(), core::mem::size_of::<i32>());
    }
}
