// Where a model's weights and settings come from: a diffusers folder (model_index.json and one
// folder per component) or one original-layout (CompVis / A1111) single-file checkpoint.
package dev.ldm4j.diffusion.model;

public enum ModelLayout {
    DIFFUSERS_FOLDER("diffusers folder"),
    ORIGINAL_SINGLE_FILE("original single-file checkpoint (CompVis / A1111 layout)");

    private final String label;

    ModelLayout(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }
}
