// The generation parameters text: A1111's own texts (hand-written in the web UI's format, with a
// negative prompt, Karras, and hires-fix keys that ldm4j ignores) read into our settings; A1111's
// sampler and schedule names mapped to ours, and what ldm4j lacks refused by name; quoting as the web UI
// quotes; and every setting ldm4j writes read back unchanged.
package dev.ldm4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InfotextTest {
    private static final String A1111 = """
            masterpiece, (a red fox:1.3) sitting in [deep] snow, ((winter forest)),
            soft light
            Negative prompt: blurry, (lowres:1.2), watermark
            Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234567890, Size: 512x768, \
            Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.45, Clip skip: 2, \
            Hires upscale: 2, Hires steps: 10, Hires upscaler: Latent, Lora hashes: "fox: 1a2b3c, snow: 4d5e6f", Version: v1.10.1""";

    @Test
    void readsTheWebUisTextIntoOurSettings() {
        Infotext text = Infotext.parse(A1111);
        assertEquals("masterpiece, (a red fox:1.3) sitting in [deep] snow, ((winter forest)),\nsoft light", text.prompt());
        assertEquals("blurry, (lowres:1.2), watermark", text.negativePrompt());
        assertEquals("fox: 1a2b3c, snow: 4d5e6f", text.fields().get("Lora hashes"), "a quoted value is unquoted");

        GenerationSettings s = GenerationSettings.fromInfotext(text, "fox.png");
        assertEquals(text.prompt(), s.prompt());
        assertEquals(28, s.steps());
        assertEquals(6.5, s.guidance());
        assertEquals("dpmpp_2m", s.scheduler());
        assertTrue(s.karras());
        assertNull(s.samplerProblem());
        assertEquals(1234567890L, s.seed());
        assertEquals(512, s.width());
        assertEquals(768, s.height());
        assertEquals("v1-5-pruned-emaonly", s.modelName());
        assertEquals("6ce0161689", s.modelHash());
        assertEquals(1, s.clipSkip(), "the web UI's Clip skip 2 is the penultimate layer: --clip-skip 1");
        assertEquals("cuda", s.generator(), "no RNG key: the web UI drew on the GPU");
        assertNull(s.noiseDtype());
        assertEquals("a1111", s.promptStyle(), "the web UI's prompts are read in its style");
        assertNull(s.strength(), "with hires keys, Denoising strength belongs to the hires pass");
        assertEquals(List.of("Denoising strength", "Hires upscale", "Hires steps", "Hires upscaler", "Lora hashes"), s.ignored());
        assertEquals(1, s.batchSize());
    }

    @Test
    void imageToImageStrengthAndCpuNoiseAreRead() {
        GenerationSettings s = GenerationSettings.fromInfotext(Infotext.parse(
                "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 512x512, Denoising strength: 0.75, RNG: CPU"), "cat.png");
        assertEquals(0.75, s.strength());
        assertEquals("cpu", s.generator());
        assertEquals("euler_a", s.scheduler());
        assertEquals(false, s.karras());
        assertEquals(7.0, s.guidance());
        assertEquals("", s.negativePrompt());
        assertEquals(List.of(), s.ignored());
    }

    @ParameterizedTest(name = "{0} / {1}")
    @CsvSource(nullValues = "-", value = {
            "Euler a, -, euler_a, false",
            "Euler, Automatic, euler, false",
            "Euler, Karras, euler, true",
            "LMS, -, lms, false",
            "LMS Karras, -, lms, true",
            "Heun, -, heun, false",
            "DPM2, -, kdpm2, true",
            "DPM2 a, Uniform, kdpm2_a, false",
            "DPM2 a Karras, -, kdpm2_a, true",
            "DPM++ 2M, -, dpmpp_2m, true",
            "DPM++ 2M, Automatic, dpmpp_2m, true",
            "DPM++ 2M, Uniform, dpmpp_2m, false",
            "DPM++ 2M Karras, -, dpmpp_2m, true",
            "DPM++ 2M, karras, dpmpp_2m, true",
            "DPM++ SDE, -, dpmpp_2s, true",
            "DPM++ 2M SDE, Karras, dpmpp_2m_sde, true",
            "DPM++ 2M SDE Karras, -, dpmpp_2m_sde, true",
            "DDIM, -, ddim, false",
            "PLMS, -, pndm, false",
            "UniPC, Automatic, unipc, false",
            "LCM, -, lcm, false"})
    void mapsTheWebUisSamplerNamesToOurs(String sampler, String schedule, String ours, boolean karras) {
        assertEquals(new A1111Samplers.Choice(ours, karras), A1111Samplers.read(sampler, schedule));
    }

    @ParameterizedTest(name = "{0} / {1}")
    @CsvSource(nullValues = "-", value = {
            "DPM++ 2S a, -, sampler 'DPM++ 2S a' is not available",
            "DPM++ 3M SDE, Exponential, sampler 'DPM++ 3M SDE' is not available",
            "Restart, -, sampler 'Restart' is not available",
            "DPM fast, -, sampler 'DPM fast' is not available",
            "DPM++ 2M SDE, -, 'Exponential' (the default of DPM++ 2M SDE) is not available",
            "Euler, SGM Uniform, 'SGM Uniform' is not available",
            "DPM++ 2M Exponential, -, 'Exponential' is not available",
            "Euler, Sideways, schedule type 'Sideways' is unknown"})
    void refusesWhatLdm4jLacksByName(String sampler, String schedule, String message) {
        Main.UserError e = assertThrows(Main.UserError.class, () -> A1111Samplers.read(sampler, schedule));
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @Test
    void aSamplerLdm4jLacksIsNotedNotThrownWhenReading() {
        GenerationSettings s = GenerationSettings.fromInfotext(Infotext.parse("x\nSteps: 20, Sampler: DPM++ 2S a, Seed: 1, Size: 64x64"), "x.png");
        assertNull(s.scheduler());
        assertTrue(s.samplerProblem().contains("DPM++ 2S a"), s.samplerProblem());
    }

    @Test
    void valuesWithCommasColonsOrNewlinesAreQuotedAsTheWebUiQuotesThem() {
        assertEquals("plain", Infotext.quote("plain"));
        assertEquals("\"a, b\"", Infotext.quote("a, b"));
        assertEquals("\"k: v\"", Infotext.quote("k: v"));
        assertEquals("\"line\\none \\\"q\\\" \\\\ é\"", Infotext.quote("line\none \"q\" \\ é"));
        assertEquals("line\none \"q\" \\ é", Infotext.unquote(Infotext.quote("line\none \"q\" \\ é")));
        assertEquals("\"broken", Infotext.unquote("\"broken"));
    }

    @Test
    void aTextWithoutParametersIsAllPrompt() {
        Infotext t = Infotext.parse("just a prompt, with: a colon\nand a second line");
        assertEquals("just a prompt, with: a colon\nand a second line", t.prompt());
        assertEquals(Map.of(), t.fields());
    }

    @Test
    void everySettingLdm4jWritesIsReadBack() {
        Map<String, String> options = new LinkedHashMap<>();
        options.put("timestep_spacing", "trailing");
        options.put("eta", "0.5");
        GenerationSettings written = new GenerationSettings("a (red:1.5) apple, on a table: still life", "blurry, dark", 12, 7.5,
                "dpmpp_2m", true, null, null, options, 9007199254740991L, 72, 104, "float64", "cpu", 1, "a1111", 0.6, "v",
                "cuda", "fp16", "bf16", 4, 2, "sd1-tiny", "abcdef0123", "style.safetensors:0.8, lcm-lora.safetensors:1.0",
                "bad-hands.safetensors:bad_hands", List.of());
        String text = written.toInfotext("ldm4j dev").format();
        assertTrue(text.startsWith("a (red:1.5) apple, on a table: still life\nNegative prompt: blurry, dark\nSteps: 12, Sampler: DPM++ 2M, "
                + "Schedule type: Karras, CFG scale: 7.5, Seed: 9007199254740991, Size: 72x104, Model hash: abcdef0123, Model: sd1-tiny, "
                + "Denoising strength: 0.6, Clip skip: 2, RNG: CPU, Scheduler: dpmpp_2m, "), text);
        GenerationSettings read = GenerationSettings.fromInfotext(Infotext.parse(text), "x.png");
        assertEquals(written, read);

        // The model's own scheduler (no --scheduler) is written by its class and read back as "none chosen".
        GenerationSettings own = new GenerationSettings("p", "", 3, 1.0, null, false, "PNDMScheduler", null, Map.of(), 1L, 64, 64,
                "float32", "cuda", 0, "diffusers", null, null, "cpu", null, null, 1, 0, "m", "0000000000", null, null, List.of());
        String ownText = own.toInfotext("ldm4j dev").format();
        assertEquals("p\nSteps: 3, Sampler: PLMS, CFG scale: 1.0, Seed: 1, Size: 64x64, Model hash: 0000000000, Model: m, "
                + "Scheduler: PNDMScheduler, Prompt style: diffusers, Version: ldm4j dev", ownText);
        GenerationSettings ownRead = GenerationSettings.fromInfotext(Infotext.parse(ownText), "x.png");
        assertNull(ownRead.scheduler());
        assertEquals("PNDMScheduler", ownRead.schedulerClass());
        assertNull(ownRead.noiseDtype(), "float32 is not written");
        assertEquals(0, ownRead.clipSkip() == null ? 0 : ownRead.clipSkip());
    }

    @Test
    void aValueThatIsNotWhatItsKeyNeedsIsOneLine() {
        Main.UserError e = assertThrows(Main.UserError.class,
                () -> GenerationSettings.fromInfotext(Infotext.parse("x\nSteps: many, Sampler: Euler, Seed: 1"), "x.png"));
        assertEquals("x.png: Steps 'many' is not a whole number", e.getMessage());
        e = assertThrows(Main.UserError.class,
                () -> GenerationSettings.fromInfotext(Infotext.parse("x\nSteps: 2, Sampler: Euler, Size: big"), "x.png"));
        assertTrue(e.getMessage().contains("Size 'big'"), e.getMessage());
    }
}
