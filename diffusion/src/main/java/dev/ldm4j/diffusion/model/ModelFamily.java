// The Stable Diffusion generations ldm4j runs: SD 1.x (OpenAI CLIP ViT-L/14 text encoder, context
// 768) and SD 2.x (OpenCLIP ViT-H/14, context 1024, heads of 64 channels, linear projections).
package dev.ldm4j.diffusion.model;

public enum ModelFamily {
    SD1("Stable Diffusion 1.x"),
    SD2("Stable Diffusion 2.x");

    private final String label;

    ModelFamily(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }
}
