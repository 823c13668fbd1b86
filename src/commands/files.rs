//! `synack files`: writes a sample set into a folder, and says what it wrote.

use anyhow::Context;

use crate::cli::FilesArgs;
use crate::commands::output::outln;
use crate::report::units;
use crate::transfer::files::generate_set;

/// Writes the set and prints one line per file count and size.
pub fn run(args: &FilesArgs) -> anyhow::Result<()> {
    let paths = generate_set(&args.dir, args.set)
        .with_context(|| format!("cannot write the files into {}", args.dir.display()))?;
    let bytes: u64 = args.set.files().iter().map(|f| f.bytes).sum();
    outln!(
        "wrote {} files ({}) into {}; compare them with: synack compare --files {}",
        paths.len(),
        units::bytes(bytes as f64),
        args.dir.display(),
        args.dir.display()
    );
    Ok(())
}
