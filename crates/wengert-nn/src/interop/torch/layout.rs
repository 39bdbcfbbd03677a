//! Where the modules of the `nn.Sequential` sit, and what a state-dict key names. Without
//! layer norm the model is `Linear, act, Linear, ..., Linear`: Linear layer `l` at index
//! `2l`. With it, `Linear, LayerNorm, act, Linear, ..., Linear`: Linear layer `l` at `3l`,
//! the LayerNorm of hidden layer `l` at `3l + 1`. Activations hold no tensors.

/// The two layouts of the `nn.Sequential`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Layout {
    /// A LayerNorm between each hidden Linear layer and its activation.
    pub(super) layer_norm: bool,
}

/// A module of the `nn.Sequential` that holds tensors, with the layer it belongs to
/// (counting Linear layers from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Module {
    Linear(usize),
    /// The LayerNorm after Linear layer `l`, before its activation.
    Norm(usize),
}

/// A tensor of a module: PyTorch names a LayerNorm's gamma and beta `weight` and `bias` too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Param {
    Weight,
    Bias,
}

impl Layout {
    /// Modules per hidden layer: Linear and activation, and the LayerNorm between them.
    fn step(self) -> usize {
        if self.layer_norm {
            3
        } else {
            2
        }
    }

    /// The index of `module` in the `nn.Sequential`.
    pub(super) fn index(self, module: Module) -> usize {
        match module {
            Module::Linear(layer) => self.step() * layer,
            Module::Norm(layer) => self.step() * layer + 1,
        }
    }

    /// The state-dict key of `param` of `module`: `3.weight`.
    pub(super) fn key(self, module: Module, param: Param) -> String {
        let param = match param {
            Param::Weight => "weight",
            Param::Bias => "bias",
        };
        format!("{}.{param}", self.index(module))
    }

    /// The module at `index`, or why no module with tensors sits there.
    pub(super) fn module(self, index: usize) -> Result<Module, String> {
        let layer = index / self.step();
        match (self.layer_norm, index % self.step()) {
            (_, 0) => Ok(Module::Linear(layer)),
            (true, 1) => Ok(Module::Norm(layer)),
            (false, _) => Err(format!(
                "odd index {index}: in nn.Sequential(Linear, act, ..., Linear) the activations sit at odd indices and hold no tensors"
            )),
            (true, _) => Err(format!(
                "index {index}: in nn.Sequential(Linear, LayerNorm, act, ..., Linear) the activations sit at 2, 5, 8, ... and hold no tensors"
            )),
        }
    }

    /// The layout a state dict's indices show when no metadata says: LayerNorms hold
    /// tensors at odd indices (1, 4, 7, ...) and leave 2, 5, 8, ... to the activations. A
    /// file that fits neither is read as the layout without, whose errors name its odd
    /// indices.
    pub(super) fn shown_by(indices: &[usize]) -> Layout {
        let layer_norm = indices.iter().any(|i| i % 2 == 1) && indices.iter().all(|i| i % 3 != 2);
        Layout { layer_norm }
    }
}

/// The `nn.Sequential` index and the parameter a key names, or why it names none.
pub(super) fn parse_key(key: &str) -> Result<(usize, Param), String> {
    if is_wengert_checkpoint_name(key) {
        return Err("wengert's own checkpoint names its tensors so, with weights [in, out]; \
                    read such a file with wengert_nn::checkpoint"
            .to_string());
    }
    let pattern = "names must be `<index>.weight` or `<index>.bias`, the index an \
                   nn.Sequential gives (strip any prefix such as `model.`)";
    let Some((index, param)) = key.split_once('.') else { return Err(pattern.to_string()) };
    if !is_decimal(index) {
        return Err(pattern.to_string());
    }
    let param = match param {
        "weight" => Param::Weight,
        "bias" => Param::Bias,
        other => return Err(format!("`{other}` is not a Linear layer's weight or bias (nor a LayerNorm's)")),
    };
    let index: usize = index.parse().map_err(|_| format!("index {index} is too large"))?;
    Ok((index, param))
}

/// Digits with no leading zero, as PyTorch writes a module's index.
pub(super) fn is_decimal(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0'))
}

/// A name [`Mlp::parameter_names`](crate::Mlp::parameter_names) gives: `layer<l>.weight`,
/// `layer<l>.bias`, `norm<l>.gamma`, `norm<l>.beta`.
fn is_wengert_checkpoint_name(key: &str) -> bool {
    let Some((module, param)) = key.split_once('.') else { return false };
    let layer = module.strip_prefix("layer").is_some_and(is_decimal) && (param == "weight" || param == "bias");
    let norm = module.strip_prefix("norm").is_some_and(is_decimal) && (param == "gamma" || param == "beta");
    layer || norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_modules_of_either_layout() {
        let plain = Layout { layer_norm: false };
        let normed = Layout { layer_norm: true };
        assert_eq!(plain.key(Module::Linear(2), Param::Weight), "4.weight");
        assert_eq!(normed.key(Module::Linear(2), Param::Weight), "6.weight");
        assert_eq!(normed.key(Module::Norm(1), Param::Bias), "4.bias");
        assert_eq!(normed.module(4), Ok(Module::Norm(1)));
        assert!(normed.module(5).is_err_and(|reason| reason.contains("2, 5, 8")));
        assert!(plain.module(3).is_err_and(|reason| reason.contains("odd index 3")));
    }

    #[test]
    fn a_plain_state_dict_shows_its_layout_by_its_indices() {
        assert!(Layout::shown_by(&[0, 1, 3, 4, 6]).layer_norm);
        assert!(!Layout::shown_by(&[0, 2, 4]).layer_norm);
        assert!(!Layout::shown_by(&[0]).layer_norm);
        // An odd index among Linear layers at even ones fits neither: read without.
        assert!(!Layout::shown_by(&[0, 1, 2]).layer_norm);
    }
}
