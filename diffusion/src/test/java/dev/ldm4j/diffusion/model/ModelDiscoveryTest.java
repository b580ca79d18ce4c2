// Discovery of the four tiny conformance models (two folders, two single files with --config), the
// standard-model inference on the full-size SD 1.5/2.1 headers, and clean refusals of bad input.
package dev.ldm4j.diffusion.model;

import dev.ldm4j.diffusion.clip.ClipTextConfig;
import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.diffusion.vae.VaeConfig;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.HeaderSource;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsWriter;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightSource;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelDiscoveryTest {
    private Path conf;

    @BeforeEach
    void fixtures() {
        Assumptions.assumeTrue(SharedFixtures.available(), "shared conformance fixtures not found");
        conf = SharedFixtures.conformance();
    }

    @Test
    void sd1FolderIsDiffusersSd1WithEpsilonAndTokenizer() {
        try (var spec = ModelDiscovery.discover(conf.resolve("sd1-tiny"), null, null)) {
            assertEquals(ModelLayout.DIFFUSERS_FOLDER, spec.layout());
            assertEquals(ModelFamily.SD1, spec.family());
            assertEquals("epsilon", spec.predictionType());
            assertEquals("PNDMScheduler", spec.schedulerConfig().get("_class_name"));
            assertEquals(conf.resolve("sd1-tiny/tokenizer"), spec.tokenizer());
            assertEquals(List.of(32, 64, 64, 64), spec.unet().blockOutChannels());
            assertEquals("quick_gelu", spec.textEncoder().hiddenAct());
            assertTrue(spec.textEncoderWeights().names().contains("text_model.final_layer_norm.weight"));
        }
    }

    @Test
    void sd2FolderIsDiffusersSd2WithVPrediction() {
        try (var spec = ModelDiscovery.discover(conf.resolve("sd2-tiny"), null, null)) {
            assertEquals(ModelFamily.SD2, spec.family());
            assertEquals("v_prediction", spec.predictionType());
            assertTrue(spec.unet().useLinearProjection());
            assertEquals("gelu", spec.textEncoder().hiddenAct());
        }
    }

    @Test
    void predictionOverrideReplacesTheSchedulerSetting() {
        try (var spec = ModelDiscovery.discover(conf.resolve("sd2-tiny"), null, "eps")) {
            assertEquals("epsilon", spec.predictionType());
            assertEquals("epsilon", spec.schedulerConfig().get("prediction_type"));
        }
        ModelException e = assertThrows(ModelException.class, () -> ModelDiscovery.discover(conf.resolve("sd2-tiny"), null, "x0"));
        assertTrue(e.getMessage().contains("'x0'"), e.getMessage());
    }

    /**
     * The single file mapped to diffusers names holds exactly the folder's names, shapes and values
     * (the fixtures' float32 weights are exactly representable in the file's float16), component by component.
     */
    @ParameterizedTest
    @ValueSource(strings = {"sd1-tiny", "sd2-tiny"})
    void singleFileWithConfigPresentsTheFolderTensors(String model) {
        try (var file = ModelDiscovery.discover(conf.resolve(model + ".safetensors"), conf.resolve(model), null);
             var folder = ModelDiscovery.discover(conf.resolve(model), null, null)) {
            assertEquals(ModelLayout.ORIGINAL_SINGLE_FILE, file.layout());
            assertEquals(folder.family(), file.family());
            assertEquals(folder.unet(), file.unet());
            assertEquals(folder.vae(), file.vae());
            assertEquals(folder.textEncoder(), file.textEncoder());
            assertEquals(folder.predictionType(), file.predictionType());
            assertEquals(conf.resolve(model).resolve("tokenizer"), file.tokenizer());
            assertSameTensors(folder.unetWeights(), file.unetWeights());
            assertSameTensors(folder.vaeWeights(), file.vaeWeights());
            assertSameTensors(folder.textEncoderWeights(), file.textEncoderWeights());
            assertEquals(List.of(), file.unrecognized());
            assertTrue(file.ignored().contains("alphas_cumprod"), file.ignored().toString());
            if (model.equals("sd2-tiny")) {
                assertTrue(file.ignored().contains("cond_stage_model.model.transformer.resblocks.3.ln_1.weight"), file.ignored().toString());
            }
        }
    }

    private static void assertSameTensors(WeightSource expected, WeightSource actual) {
        List<String> problems = new ArrayList<>();
        for (String n : expected.names()) {
            TensorInfo a = actual.info(n);
            if (a == null) {
                problems.add("missing " + n);
            } else if (!Arrays.equals(a.shape(), expected.info(n).shape())) {
                problems.add(n + " " + Arrays.toString(a.shape()) + " vs " + Arrays.toString(expected.info(n).shape()));
            } else if (!Arrays.equals(actual.tensor(n).toFloatArray(), expected.tensor(n).toFloatArray())) {
                problems.add(n + " has different values");
            }
        }
        for (String n : actual.names()) {
            if (expected.info(n) == null) {
                problems.add("extra " + n);
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    /** fp16-variant and sharded component weights are found when the plain file is absent. */
    @Test
    void fp16VariantAndShardedWeightsAreFound(@TempDir Path dir) throws IOException {
        Path src = conf.resolve("sd1-tiny");
        Path m = dir.resolve("model");
        for (String f : List.of("model_index.json", "scheduler/scheduler_config.json", "unet/config.json", "vae/config.json",
                "text_encoder/config.json", "vae/diffusion_pytorch_model.safetensors")) {
            Files.createDirectories(m.resolve(f).getParent());
            Files.copy(src.resolve(f), m.resolve(f));
        }
        Files.copy(src.resolve("unet/diffusion_pytorch_model.safetensors"), m.resolve("unet/diffusion_pytorch_model.fp16.safetensors"));
        Map<String, String> weightMap = new LinkedHashMap<>();
        try (var text = dev.ldm4j.weights.SafetensorsFile.open(src.resolve("text_encoder/model.safetensors"))) {
            Map<String, Tensor> first = new LinkedHashMap<>();
            Map<String, Tensor> second = new LinkedHashMap<>();
            for (String n : text.names()) {
                boolean one = first.size() < text.names().size() / 2;
                (one ? first : second).put(n, text.tensor(n));
                weightMap.put(n, one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
            }
            SafetensorsWriter.write(m.resolve("text_encoder/model-00001-of-00002.safetensors"), first);
            SafetensorsWriter.write(m.resolve("text_encoder/model-00002-of-00002.safetensors"), second);
        }
        StringBuilder index = new StringBuilder("{\"metadata\": {}, \"weight_map\": {");
        weightMap.forEach((k, v) -> index.append(index.charAt(index.length() - 1) == '{' ? "" : ",").append('"').append(k).append("\": \"").append(v).append('"'));
        Files.writeString(m.resolve("text_encoder/model.safetensors.index.json"), index.append("}}").toString());

        try (var copy = ModelDiscovery.discover(m, null, null); var original = ModelDiscovery.discover(src, null, null)) {
            assertSameTensors(original.unetWeights(), copy.unetWeights());
            assertSameTensors(original.textEncoderWeights(), copy.textEncoderWeights());
            assertNull(copy.tokenizer(), "no tokenizer folder in the copy");
        }
        Files.delete(m.resolve("vae/diffusion_pytorch_model.safetensors"));
        ModelException e = assertThrows(ModelException.class, () -> ModelDiscovery.discover(m, null, null));
        assertTrue(e.getMessage().contains("diffusion_pytorch_model.safetensors"), e.getMessage());
    }

    @Test
    void tinySingleFileWithoutConfigIsRefusedAskingForConfig() {
        ModelException e = assertThrows(ModelException.class, () -> ModelDiscovery.discover(conf.resolve("sd1-tiny.safetensors"), null, null));
        assertEquals(ModelException.Fix.CONFIG_FOLDER, e.fix(), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void configThatDisagreesWithTheCheckpointIsRefusedNamingTheSetting() {
        ModelException e = assertThrows(ModelException.class,
                () -> ModelDiscovery.discover(conf.resolve("sd2-tiny.safetensors"), conf.resolve("sd1-tiny"), null));
        assertTrue(e.getMessage().contains("cross_attention") || e.getMessage().contains("use_linear_projection"), e.getMessage());
    }

    /**
     * A full-size inpainting single file (the published widths, conv_in of 9 channels): SD 1.x as SD 1.5; SD 2.x as
     * stable-diffusion-2-inpainting, a 512-pixel epsilon model (not the v-prediction 768 default of SD 2.x files).
     */
    @ParameterizedTest
    @ValueSource(strings = {"sd15", "sd21"})
    void fullSizeInpaintingSingleFileIsRecognised(String model) {
        Map<String, Object> header = new LinkedHashMap<>(Json.parseObject(conf.resolve(model + "-original-fp16.header.json")));
        String convIn = "model.diffusion_model.input_blocks.0.0.weight";
        header.put(convIn, List.of("float16", List.of(320L, 9L, 3L, 3L)));
        HeaderSource original = HeaderSource.withZeroStandIns(model + "-inpainting", header);
        var spec = ModelDiscovery.fromOriginal(Path.of(model + "-inpainting.safetensors"), original, null, null);
        assertEquals(9, spec.unet().inChannels());
        assertEquals("epsilon", spec.predictionType());
        assertEquals(64, spec.unet().sampleSize());
    }

    /** Standard values for full-size checkpoints: inferred configs equal the diffusers folder's configs of the same model. */
    @SuppressWarnings("unchecked")
    @ParameterizedTest
    @ValueSource(strings = {"sd15", "sd21"})
    void fullSizeSingleFileIsRecognisedWithItsPublishedSettings(String model) {
        HeaderSource original = HeaderSource.withZeroStandIns(model, Json.parseObject(conf.resolve(model + "-original-fp16.header.json")));
        Map<String, Object> diffusers = Json.parseObject(conf.resolve(model + "-diffusers.header.json"));
        SingleFileArchitecture a = SingleFileArchitecture.infer(original);
        assertEquals(model.equals("sd15"), a.isStandardSd1());
        assertEquals(model.equals("sd21"), a.isStandardSd2());
        var spec = ModelDiscovery.fromOriginal(Path.of(model + ".safetensors"), original, null, null);
        assertEquals(UNetConfig.fromJson((Map<String, Object>) diffusers.get("unet_config")), spec.unet());
        assertEquals(VaeConfig.fromJson((Map<String, Object>) diffusers.get("vae_config")), spec.vae());
        assertEquals(ClipTextConfig.fromJson((Map<String, Object>) diffusers.get("text_encoder_config")), spec.textEncoder());
        assertEquals(model.equals("sd15") ? "epsilon" : "v_prediction", spec.predictionType());
        assertEquals(model.equals("sd15") ? "PNDMScheduler" : "DDIMScheduler", spec.schedulerConfig().get("_class_name"));
        assertNull(spec.tokenizer());
        assertEquals(List.of(), spec.unrecognized());
    }

    @Test
    void missingPathIsRefused() {
        ModelException e = assertThrows(ModelException.class, () -> ModelDiscovery.discover(conf.resolve("no-such-model"), null, null));
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
    }

    @Test
    void directoryWithoutModelIndexIsRefused(@TempDir Path dir) {
        ModelException e = assertThrows(ModelException.class, () -> ModelDiscovery.discover(dir, null, null));
        assertTrue(e.getMessage().contains("model_index.json"), e.getMessage());
    }

    @Test
    void safetensorsWithoutSdTensorsIsRefused(@TempDir Path dir) {
        Path f = dir.resolve("other.safetensors");
        SafetensorsWriter.write(f, Map.of("encoder.weight", Tensor.zeros(2, 2)));
        ModelException e = assertThrows(ModelException.class, () -> ModelDiscovery.discover(f, null, null));
        assertTrue(e.getMessage().contains("not a Stable Diffusion checkpoint"), e.getMessage());
    }

    @Test
    void truncatedCheckpointIsRefusedInOneLine(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("broken.safetensors");
        byte[] all = Files.readAllBytes(conf.resolve("sd1-tiny.safetensors"));
        Files.write(f, Arrays.copyOf(all, all.length / 2));
        ModelException e = assertThrows(ModelException.class, () -> ModelDiscovery.discover(f, null, null));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertTrue(e.getMessage().contains("broken.safetensors"), e.getMessage());
    }

    @Test
    void damagedConfigIsRefusedNamingTheFile(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("model_index.json"), "{\"unet\": [");
        ModelException e = assertThrows(ModelException.class, () -> ModelDiscovery.discover(dir, null, null));
        assertTrue(e.getMessage().contains("model_index.json"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void configForAFolderIsRefused() {
        ModelException e = assertThrows(ModelException.class, () -> ModelDiscovery.discover(conf.resolve("sd1-tiny"), conf.resolve("sd2-tiny"), null));
        assertTrue(e.getMessage().contains("a config folder is for single-file checkpoints") && e.fix() == ModelException.Fix.NO_CONFIG_FOLDER, e.getMessage());
    }

    @Test
    void textFileIsRefused(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("notes.safetensors");
        Files.writeString(f, "hello, not a checkpoint");
        assertThrows(ModelException.class, () -> ModelDiscovery.discover(f, null, null));
    }

    @Test
    void pickleCheckpointIsRefusedWithAdvice(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("model.ckpt");
        Files.write(f, new byte[16]);
        ModelException e = assertThrows(ModelException.class, () -> ModelDiscovery.discover(f, null, null));
        assertTrue(e.getMessage().contains(".safetensors"), e.getMessage());
    }

    @Test
    void sdxlAndOtherInputWidthsAreNamedAsUnsupported(@TempDir Path dir) {
        Path xl = dir.resolve("xl.safetensors");
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("model.diffusion_model.input_blocks.0.0.weight", Tensor.zeros(8, 4, 3, 3));
        t.put("model.diffusion_model.label_emb.0.0.weight", Tensor.zeros(8, 8));
        t.put("conditioner.embedders.0.transformer.text_model.final_layer_norm.weight", Tensor.zeros(8));
        SafetensorsWriter.write(xl, t);
        ModelException e = assertThrows(ModelException.class, () -> ModelDiscovery.discover(xl, null, null));
        assertTrue(e.getMessage().contains("SDXL"), e.getMessage());

        Path depth = dir.resolve("depth.safetensors");
        SafetensorsWriter.write(depth, Map.of("model.diffusion_model.input_blocks.0.0.weight", Tensor.zeros(8, 5, 3, 3)));
        e = assertThrows(ModelException.class, () -> ModelDiscovery.discover(depth, null, null));
        assertTrue(e.getMessage().contains("5 input channels") && e.getMessage().contains("inpainting (9)"), e.getMessage());
    }

    @Test
    void inpaintingFolderIsReadWithItsNineChannelUNet() {
        Path inpaint = SharedFixtures.conformance().resolve("sd1-inpaint-tiny");
        Assumptions.assumeTrue(Files.isDirectory(inpaint), "sd1-inpaint-tiny not present");
        try (StableDiffusionModelSpec spec = ModelDiscovery.discover(inpaint, null, null)) {
            assertEquals(9, spec.unet().inChannels());
            assertTrue(spec.unet().isInpainting());
            assertEquals(ModelLayout.DIFFUSERS_FOLDER, spec.layout());
        }
    }

    @Test
    void loraFilesAsModelsAndSingleFileLcmCheckpointsAreNamedAsUnsupported(@TempDir Path dir) {
        for (String key : List.of("lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight",
                "unet.down_blocks.0.attentions.0.proj_in.lora_A.weight")) {
            Path lora = dir.resolve("pytorch_lora_weights.safetensors");
            SafetensorsWriter.write(lora, Map.of(key, Tensor.zeros(4, 8)), Map.of(), null, true);
            ModelException e = assertThrows(ModelException.class, () -> ModelDiscovery.discover(lora, null, null));
            assertTrue(e.getMessage().contains("a LoRA file") && e.getMessage().contains("base model"), e.getMessage());
            assertEquals(ModelException.Fix.LORA_FLAG, e.fix());
        }

        Path lcm = dir.resolve("lcm.safetensors");
        SafetensorsWriter.write(lcm, Map.of("model.diffusion_model.input_blocks.0.0.weight", Tensor.zeros(8, 4, 3, 3),
                "model.diffusion_model.time_embed.cond_proj.weight", Tensor.zeros(8, 256)));
        ModelException e = assertThrows(ModelException.class, () -> ModelDiscovery.discover(lcm, null, null));
        assertTrue(e.getMessage().contains("LCM") && e.getMessage().contains("time_embed.cond_proj.weight"), e.getMessage());
    }
}
