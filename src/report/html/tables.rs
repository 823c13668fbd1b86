//! Report layer: the terminal report's tables as HTML tables — the same `comfy_table::Table`s,
//! cell for cell, so both outputs say the same.

use comfy_table::Table;
use maud::{Markup, html};

/// `table` as an HTML table under `caption`.
pub fn render(caption: &str, table: &Table) -> Markup {
    html! {
        table {
            caption { (caption) }
            @if let Some(header) = table.header() {
                thead { tr { @for cell in header.cell_iter() { th { (cell.content()) } } } }
            }
            tbody {
                @for row in table.row_iter() {
                    tr { @for cell in row.cell_iter() { td { (cell.content()) } } }
                }
            }
        }
    }
}
