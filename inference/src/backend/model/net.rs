//! The network: one hidden ReLU layer and a single logit. Knows nothing about features.
//! [`FraudNet`] is the trainable form; [`ServingNet`] the same function laid out for
//! scoring with fewer tensor operations per batch.

use candle_core::{D, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder, linear};

/// A two-layer perceptron producing one fraud logit per row.
#[derive(Debug)]
pub struct FraudNet {
    hidden: Linear,
    output: Linear,
}

impl FraudNet {
    pub fn new(vb: &VarBuilder<'_>, inputs: usize, hidden_units: usize) -> Result<Self> {
        Ok(Self {
            hidden: linear(inputs, hidden_units, vb.pp("hidden"))?,
            output: linear(hidden_units, 1, vb.pp("output"))?,
        })
    }

    /// Logits of shape `(rows,)` for normalised inputs of shape `(rows, inputs)`.
    pub fn logits(&self, inputs: &Tensor) -> Result<Tensor> {
        self.output
            .forward(&self.hidden.forward(inputs)?.relu()?)?
            .squeeze(1)
    }
}

/// The trained network rearranged for scoring: the hidden layer's bias is a last input
/// row of its weights (callers append a constant 1 to every input), both weight matrices
/// are stored transposed, and the output bias is a number. A batch then costs two matrix
/// products, a ReLU and an affine map: about half the operations of [`FraudNet::logits`],
/// whose fixed cost per batch is most of a small batch's.
#[derive(Debug)]
pub struct ServingNet {
    /// `(inputs + 1, hidden)`: the hidden weights transposed, the bias as the last row.
    hidden: Tensor,
    /// `(hidden, 1)`: the output weights transposed.
    output: Tensor,
    output_bias: f64,
}

impl ServingNet {
    pub fn new(net: &FraudNet) -> Result<Self> {
        let weight = net.hidden.weight();
        let hidden_bias = match net.hidden.bias() {
            Some(bias) => bias.clone(),
            None => Tensor::zeros(weight.dim(0)?, weight.dtype(), weight.device())?,
        };
        let hidden = Tensor::cat(&[weight.t()?, hidden_bias.unsqueeze(0)?], 0)?.contiguous()?;
        let output = net.output.weight().t()?.contiguous()?;
        // One output unit: its bias has one element.
        let output_bias = match net.output.bias() {
            Some(bias) => f64::from(bias.squeeze(0)?.to_scalar::<f32>()?),
            None => 0.0,
        };
        Ok(Self {
            hidden,
            output,
            output_bias,
        })
    }

    /// Logits of shape `(rows,)` for normalised inputs of shape `(rows, inputs + 1)` whose
    /// last column is 1.
    pub fn logits(&self, inputs: &Tensor) -> Result<Tensor> {
        inputs
            .matmul(&self.hidden)?
            .relu()?
            .matmul(&self.output)?
            .affine(1.0, self.output_bias)?
            .squeeze(D::Minus1)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    use super::*;

    #[test]
    fn the_serving_form_computes_the_trained_networks_logits() {
        let device = Device::Cpu;
        let vars = VarMap::new();
        let vb = VarBuilder::from_varmap(&vars, DType::F32, &device);
        let trained = FraudNet::new(&vb, 9, 16).unwrap();
        let serving = ServingNet::new(&trained).unwrap();
        let inputs = Tensor::randn(0f32, 2.0, (37, 9), &device).unwrap();
        let ones = Tensor::ones((37, 1), DType::F32, &device).unwrap();
        let with_one = Tensor::cat(&[&inputs, &ones], 1).unwrap();
        let expected = trained.logits(&inputs).unwrap().to_vec1::<f32>().unwrap();
        let actual = serving.logits(&with_one).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(actual.len(), 37);
        for (a, e) in actual.iter().zip(&expected) {
            assert!((a - e).abs() < 1e-4, "{a} vs {e}");
        }
    }
}
