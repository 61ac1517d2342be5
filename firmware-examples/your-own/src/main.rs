//! Runs the model `kiln export model.keras -o model/model.kiln --rust model/model.rs` wrote.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};

mod model {
    include!("../model/model.rs");
}

#[entry]
fn main() -> ! {
    // cortex-m-rt gives `main` the only reference to its `static mut`s.
    static mut ARENA: [u8; model::ARENA_BYTES] = [0; model::ARENA_BYTES];

    // At boot: check the blob in flash (its weights stay there), then prepare the model
    // once: shapes, the arena plan and every layer's parameters, into `prepared`.
    let model = match kiln::format::load::<model::Storage>(&model::BLOB.0) {
        Ok(model) => model,
        Err(e) => fail(e),
    };
    let mut prepared = kiln::runtime::Prepared::default();
    if let Err(e) = model.prepare_into(&mut prepared, None) {
        fail(e);
    }

    // Then run it as often as needed: each predict only computes.
    let input = [0.5f32; model::INPUT_ELEMENTS[0]];
    let mut output = [0.0f32; model::OUTPUT_ELEMENTS[0]];
    if let Err(e) = prepared.predict(&[&input], &mut [&mut output], ARENA) {
        fail(e);
    }
    hprintln!("{:?}", output);
    debug::exit(debug::EXIT_SUCCESS);
    loop {}
}

fn fail(error: kiln::Error) -> ! {
    hprintln!("error: {}", error);
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}
