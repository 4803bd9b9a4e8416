//! What the panel tests share: one panel drawn alone in a test harness, keeping every action
//! it asked of the app.

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use crate::console::context::ConsoleContext;

/// A panel under test, the context it draws from, and every action it returned.
pub(crate) struct Drawn<P, A> {
    pub panel: P,
    pub cx: ConsoleContext,
    pub actions: Vec<A>,
}

/// Draws `panel` alone in a window of `size` with `draw`, the panel's `ui`.
pub(crate) fn harness<P: 'static, A: 'static>(
    panel: P,
    cx: ConsoleContext,
    size: egui::Vec2,
    draw: fn(&mut P, &mut egui::Ui, &ConsoleContext) -> Vec<A>,
) -> Harness<'static, Drawn<P, A>> {
    Harness::builder().with_size(size).build_ui_state(
        move |ui, d: &mut Drawn<P, A>| {
            let actions = draw(&mut d.panel, ui, &d.cx);
            d.actions.extend(actions);
        },
        Drawn {
            panel,
            cx,
            actions: Vec::new(),
        },
    )
}

/// Clicks the widget of this role and label, then runs two frames so that what the click
/// opened or changed is drawn.
pub(crate) fn click<S>(h: &mut Harness<'_, S>, role: Role, label: &str) {
    h.get_by_role_and_label(role, label).click();
    h.step();
    h.step();
}
