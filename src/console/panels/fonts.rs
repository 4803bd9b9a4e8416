//! Chinese glyphs: egui's own fonts have none, and bank and depositor names are Chinese. A
//! subset of Droid Sans Fallback (Apache-2.0, `assets/DroidSansFallback-LICENSE.txt`) is
//! bundled and added behind egui's fonts, so Latin text keeps its look.

use eframe::egui;
use egui::epaint::text::{FontInsert, FontPriority, InsertFontFamily};
use egui::{FontData, FontFamily};

static CJK_FONT: &[u8] = include_bytes!("../../../assets/DroidSansFallback-subset.ttf");

pub fn install(ctx: &egui::Context) {
    let families = [FontFamily::Proportional, FontFamily::Monospace]
        .into_iter()
        .map(|family| InsertFontFamily {
            family,
            priority: FontPriority::Lowest,
        })
        .collect();
    ctx.add_font(FontInsert::new(
        "droid-sans-fallback",
        FontData::from_static(CJK_FONT),
        families,
    ));
}
