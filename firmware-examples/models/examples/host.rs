//! The firmware examples' models on the host.
//!
//! ```sh
//! HOST=$(rustc -vV | sed -n 's/^host: //p')
//! # print what the firmware prints (to compare the bits):
//! cargo run -p kiln-example-models --example host --target $HOST -- run sine
//! # write sine.kiln, its inputs (sine-x0.bin …) and the host's outputs (sine-y.bin) to DIR:
//! cargo run -p kiln-example-models --example host --target $HOST -- export sine DIR
//! ```

use kiln_example_models::{cnn, fine_tune, sine, two_inputs, Board};
use std::path::Path;
use std::process::ExitCode;

struct Host;

impl Board for Host {
    fn print(&mut self, args: std::fmt::Arguments<'_>) {
        println!("{args}");
    }
}

fn run(name: &str) -> Result<(), String> {
    let mut arena = vec![0u8; 64 * 1024];
    match name {
        "sine" => sine::build()
            .map_err(Into::into)
            .and_then(|m| sine::run(&mut Host, &m, &mut arena[..sine::ARENA_BYTES])),
        "two_inputs" => two_inputs::build()
            .map_err(Into::into)
            .and_then(|m| two_inputs::run(&mut Host, &m, &mut arena[..two_inputs::ARENA_BYTES])),
        "cnn" => cnn::build()
            .map_err(Into::into)
            .and_then(|m| cnn::run(&mut Host, &m, &mut arena[..cnn::ARENA_BYTES])),
        // The training arena as the firmware declares it: TRAIN_ARENA_BYTES of the plan.
        "fine_tune" => fine_tune::build().map_err(Into::into).and_then(|m| {
            let bytes = m.train_plan(&fine_tune::compile())?.train_arena_bytes();
            let mut weights = vec![0u8; fine_tune::WEIGHT_BYTES];
            fine_tune::run(&mut Host, &m, &mut arena[..bytes], &mut weights)
        }),
        _ => return Err(format!("no example '{name}'")),
    }
    .map_err(|e| e.to_string())
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn export<S: kiln::Storage>(
    name: &str,
    dir: &Path,
    model: kiln::Graph<'_, S>,
    inputs: &[&[f32]],
    output_len: usize,
) -> Result<(), String> {
    let mut buf = vec![0u8; 1 << 20];
    let len = kiln::format::write(&model, &mut buf).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join(format!("{name}.kiln")), &buf[..len]).map_err(|e| e.to_string())?;
    for (i, x) in inputs.iter().enumerate() {
        std::fs::write(dir.join(format!("{name}-x{i}.bin")), f32_bytes(x))
            .map_err(|e| e.to_string())?;
    }
    let mut y = vec![0.0f32; output_len];
    let mut arena = vec![0u8; model.arena_bytes().map_err(|e| e.to_string())?];
    model
        .predict(inputs, &mut [&mut y], &mut arena)
        .map_err(|e| e.to_string())?;
    std::fs::write(dir.join(format!("{name}-y.bin")), f32_bytes(&y)).map_err(|e| e.to_string())?;
    println!("{name}: {len} bytes of blob, {output_len} outputs");
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["run", name] | [name] => run(name),
        ["export", name, dir] => {
            let dir = Path::new(dir);
            let built = |e: kiln::Error| e.to_string();
            match name {
                "sine" => sine::build()
                    .map_err(built)
                    .and_then(|m| export(name, dir, m, &[&sine::XS], sine::XS.len())),
                "two_inputs" => two_inputs::build().map_err(built).and_then(|m| {
                    export(name, dir, m, &[&two_inputs::MOTION, &two_inputs::AUDIO], 3)
                }),
                "cnn" => cnn::build()
                    .map_err(built)
                    .and_then(|m| export(name, dir, m, &[&cnn::IMAGE], 4)),
                _ => Err(format!("no example '{name}'")),
            }
        }
        _ => Err("usage: host [run] sine|two_inputs|cnn|fine_tune | host export NAME DIR".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
