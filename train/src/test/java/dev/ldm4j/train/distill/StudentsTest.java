// How a student U-Net starts: a copy of the teacher for the teacher's architecture; for one that drops blocks
// (BK-SDM style) every kept tensor copied from the teacher by name and shape; for one with fewer channels a new
// initialisation; the consistency student's cond_proj at zero, so it starts as the teacher's conditional branch.
package dev.ldm4j.train.distill;

import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.train.ModelInit;
import dev.ldm4j.train.UNetTraining;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StudentsTest {
    static UNetTraining.Parts teacher() {
        Map<String, Object> unet = new LinkedHashMap<>();
        unet.put("block_out_channels", List.of(16, 32, 32));
        unet.put("down_block_types", List.of("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"));
        unet.put("up_block_types", List.of("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"));
        unet.put("layers_per_block", 1);
        unet.put("norm_num_groups", 8);
        unet.put("cross_attention_dim", 16);
        unet.put("attention_head_dim", 2);
        unet.put("sample_size", 8);
        Map<String, Object> sched = new LinkedHashMap<>(ProgressiveTargetTest.schedule("v_prediction", true));
        return new UNetTraining.Parts(unet, ModelInit.unet(UNetConfig.fromJson(unet), 1), null, null, null, null, sched,
                "DDIMScheduler", null, null);
    }

    @Test
    void theTeachersArchitectureStartsAsACopy() {
        UNetTraining.Parts t = teacher();
        UNetTraining.Parts s = Students.progressive(t, null, 8, 3);
        assertEquals(t.unet().names(), s.unet().names());
        for (String n : t.unet().names()) {
            assertArrayEquals(t.unet().tensor(n).toFloatArray(), s.unet().tensor(n).toFloatArray(), 0f, n);
            assertFalse(t.unet().tensor(n).toFloatArray() == s.unet().tensor(n).toFloatArray(), "a copy, not the teacher's array: " + n);
        }
        assertEquals(Map.of("steps", 8, "guidance", 1.0), s.defaults());
        assertEquals("trailing", s.schedulerConfig().get("timestep_spacing"));
        assertEquals(false, s.schedulerConfig().get("set_alpha_to_one"), "the teacher's");
    }

    @Test
    void droppingBlocksKeepsTheTeachersOtherTensorsAndFewerChannelsStartsNew() {
        UNetTraining.Parts t = teacher();
        Map<String, Object> noMiddleAttention = Map.of(
                "down_block_types", List.of("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
                "up_block_types", List.of("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"));
        UNetTraining.Parts s = Students.progressive(t, noMiddleAttention, 8, 3);
        assertTrue(s.unet().parameterCount() < t.unet().parameterCount());
        assertTrue(s.unet().names().stream().noneMatch(n -> n.startsWith("down_blocks.1.attentions") || n.startsWith("up_blocks.1.attentions")));
        for (String n : s.unet().names()) {
            assertTrue(t.unet().names().contains(n), "every tensor kept is the teacher's: " + n);
            assertArrayEquals(t.unet().tensor(n).toFloatArray(), s.unet().tensor(n).toFloatArray(), 0f, n);
        }
        UNetTraining.Parts narrow = Students.progressive(t, Map.of("block_out_channels", List.of(8, 16, 16)), 8, 3);
        assertTrue(narrow.unet().parameterCount() < t.unet().parameterCount() / 3);
        long same = narrow.unet().names().stream().filter(n -> t.unet().names().contains(n)
                && java.util.Arrays.equals(t.unet().tensor(n).toFloatArray(), narrow.unet().tensor(n).toFloatArray())).count();
        assertTrue(same <= narrow.unet().names().size() / 4, same + " tensors equal the teacher's: only norms' ones and zeros may");
        assertThrows(IllegalArgumentException.class, () -> Students.progressive(t, Map.of("cross_attention_dim", 32), 8, 3));
    }

    @Test
    void theConsistencyStudentAddsAZeroGuidanceProjectionAndTheLcmSchedule() {
        UNetTraining.Parts t = teacher();
        UNetTraining.Parts s = Students.consistency(t, null, 20, 4.0, 3);
        assertEquals(256, s.unetConfig().get("time_cond_proj_dim"));
        Tensor proj = s.unet().tensor("time_embedding.cond_proj.weight");
        assertArrayEquals(new int[] {16, 256}, proj.shape());
        for (float v : proj.toFloatArray()) {
            assertEquals(0f, v);
        }
        assertEquals(t.unet().names().size() + 1, s.unet().names().size());
        assertEquals("LCMScheduler", s.schedulerClass());
        assertEquals(50, s.schedulerConfig().get("original_inference_steps"));
        assertEquals(Map.of("steps", 4, "guidance", 5.0, "scheduler", "lcm"), s.defaults());
    }
}
