//! `arc`: scaffolds arc-rs projects and resources.
//!
//! ```text
//! arc new blog                                  # a project that builds and passes its tests
//! cd blog && arc generate resource post title:string body:text views:i64 published_at:datetime?
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use arc_cli::{Field, generate_resource, new_project};

#[derive(Parser)]
#[command(
    name = "arc",
    version,
    about = "Scaffolds arc-rs projects and resources"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a project NAME in ./NAME: an app with one resource, a README and tests.
    New {
        /// The project (and crate) name: lowercase letters, digits, `-` and `_`.
        name: String,
        /// Where arc-rs's workspace is (its arc-runtime becomes a path dependency);
        /// by default the checkout this `arc` was built from.
        #[arg(long)]
        arc_path: Option<PathBuf>,
    },
    /// Add code to the project in the current directory.
    Generate {
        #[command(subcommand)]
        what: Generate,
    },
}

#[derive(Subcommand)]
enum Generate {
    /// A resource: `arc generate resource book title:string pages:i32 note:text?`
    /// (types: string, text, i32, i64, f64, bool, uuid, datetime, decimal, json; `?` makes
    /// a field optional).
    Resource {
        /// Its name, singular, snake_case (`book`, `line_item`).
        name: String,
        /// Its fields, `name:type`.
        fields: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::New { name, arc_path } => {
            let arc_path = arc_path.unwrap_or_else(arc_cli::default_arc_path);
            let target = PathBuf::from(&name);
            new_project(&target, &name, &arc_path).map(|files| {
                for file in files {
                    println!("created {}", file.display());
                }
                println!(
                    "\nnext: cd {name} && cargo run   (then open http://127.0.0.1:3000/_docs)"
                );
            })
        }
        Command::Generate {
            what: Generate::Resource { name, fields },
        } => fields
            .iter()
            .map(|f| f.parse::<Field>())
            .collect::<Result<Vec<_>, _>>()
            .and_then(|fields| generate_resource(std::path::Path::new("."), &name, &fields))
            .map(|changed| {
                for file in changed {
                    println!("wrote {}", file.display());
                }
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("arc: {e}");
            ExitCode::FAILURE
        }
    }
}
