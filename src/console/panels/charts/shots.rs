//! "Copy as PNG": a screenshot of the next frame (egui's viewport command), cropped to the
//! chart's rect and put on the clipboard as an image (the clipboard stores it as PNG). The
//! screenshot arrives in a callback off the frame; it is handed over on a bounded channel and
//! taken in by the next frame.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use eframe::egui;
use egui::{ColorImage, Rect};

use crate::console::feedback;

pub struct Shots {
    tx: SyncSender<(Rect, Arc<ColorImage>)>,
    rx: Receiver<(Rect, Arc<ColorImage>)>,
}

impl Default for Shots {
    fn default() -> Self {
        // One screenshot at a time: a second click while one is on its way is dropped.
        let (tx, rx) = sync_channel(1);
        Shots { tx, rx }
    }
}

impl Shots {
    /// Asks for a screenshot of the next frame, to be cropped to `rect`.
    pub fn request(&self, ctx: &egui::Context, rect: Rect) {
        let tx = self.tx.clone();
        let repaint = ctx.clone();
        ctx.request_screenshot(move |image| {
            match tx.try_send((rect, image)) {
                Ok(()) | Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {}
            }
            repaint.request_repaint();
        });
    }

    /// Takes in a screenshot that arrived and copies its crop to the clipboard.
    pub fn poll(&self, ctx: &egui::Context) {
        while let Ok((rect, image)) = self.rx.try_recv() {
            match crop(&image, rect, ctx.pixels_per_point()) {
                Some(chart) => {
                    ctx.copy_image(chart);
                    feedback::success(ctx, "Copied the chart as an image");
                }
                None => feedback::error(ctx, "The chart was not on screen: nothing copied"),
            }
        }
    }
}

/// The part of `image` under `rect` (in points), clamped to the image; `None` when nothing of
/// it is inside.
pub fn crop(image: &ColorImage, rect: Rect, pixels_per_point: f32) -> Option<ColorImage> {
    let [w, h] = image.size;
    let px = |v: f32, max: usize| ((v * pixels_per_point).round().max(0.0) as usize).min(max);
    let (x0, x1) = (px(rect.min.x, w), px(rect.max.x, w));
    let (y0, y1) = (px(rect.min.y, h), px(rect.max.y, h));
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let mut pixels = Vec::with_capacity((x1 - x0) * (y1 - y0));
    for y in y0..y1 {
        pixels.extend_from_slice(image.pixels.get(y * w + x0..y * w + x1)?);
    }
    Some(ColorImage::new([x1 - x0, y1 - y0], pixels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui::{Color32, pos2};

    #[test]
    fn a_crop_is_clamped_to_the_image() {
        let mut pixels = vec![Color32::BLACK; 16];
        pixels[5] = Color32::RED;
        let image = ColorImage::new([4, 4], pixels);
        let c = crop(
            &image,
            Rect::from_min_max(pos2(0.5, 0.5), pos2(9.0, 1.0)),
            2.0,
        )
        .unwrap();
        assert_eq!(c.size, [3, 1]);
        assert_eq!(c.pixels[0], Color32::RED);
        assert!(
            crop(
                &image,
                Rect::from_min_max(pos2(5.0, 5.0), pos2(9.0, 9.0)),
                1.0
            )
            .is_none()
        );
    }
}
