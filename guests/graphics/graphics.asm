; guests/graphics/graphics.asm - the graphics guest.
;
; A deterministic picture of the input state, in a mode picked with the keys
; 1-4 (see guests/README.md):
;   1  VGA text 80x25          (int 10h mode 03h)
;   2  VGA 320x200, 256 colours (int 10h mode 13h)
;   3  VBE 1024x768x32, linear framebuffer - the starting mode
;   4  VBE 1920x1080x32, linear framebuffer
; Modes 3 and 4 are taken from the VBE mode list (4F00h/4F01h/4F02h); when
; the list lacks them the Bochs DISPI ports 1CEh/1CFh set them directly
; (assembling with -DFORCE_DISPI always takes that path, for tests).
;
; The picture shows the last keyboard scancode as 8 bit cells, its hex value,
; make/break and E0/E1 prefix, a count of keyboard events, the three mouse
; buttons, a count of mouse packets, the accumulated mouse position, and a
; crosshair at that position. It is a pure function of the input bytes: no
; timer, no RTC, and every input byte is applied in arrival order, including
; mode switches, so the same input gives the same picture.
;
; The program runs in real mode with 4 GiB segment limits ("unreal mode") so
; it can write the linear framebuffer with 32-bit addresses and still call the
; BIOS. IRQ1 and IRQ12 handlers queue the bytes of the i8042 controller; the
; main loop applies them, redraws what changed with interrupts off, and halts.

%include "boot.inc"

; ------------------------------------------------------------------ memory
RING        equ 0x0600          ; 256 words: data byte, high byte 20h for aux (mouse)
VBE_INFO    equ 0x0800          ; 512 bytes
MODE_INFO   equ 0x0a00          ; 256 bytes
MODE_LIST   equ 0x0b00          ; up to 127 VBE mode numbers, then FFFFh
FONT        equ 0x1000          ; 256 glyphs x 16 rows, copied from the VGA BIOS

; ------------------------------------------------------------------ colours
; Logical colours are the 16 EGA colours: palette indexes in mode 13h,
; attributes in text mode, rgb_table entries in 32-bit modes.
BLACK       equ 0
BLUE        equ 1
CYAN        equ 3
LGRAY       equ 7
DGRAY       equ 8
LBLUE       equ 9
LGREEN      equ 10
LRED        equ 12
YELLOW      equ 14
WHITE       equ 15

DIRTY_ALL    equ 1
DIRTY_PANEL  equ 2
DIRTY_CURSOR equ 4

PANEL_COLS  equ 40              ; the panel is 40x12 character cells
PANEL_ROWS  equ 12

; ================================================================== start
main:
        cli
        call enable_a20
        call enter_unreal
        call load_font
        call vbe_probe
        call install_irqs
        call init_mouse
        sti

        mov al, 3                   ; start in VBE 1024x768x32 ...
        call set_mode
        jnc .started
        mov al, 2                   ; ... or mode 13h without VBE
        call set_mode
.started:
        mov ax, [scr_w]             ; the pointer starts in the middle
        shr ax, 1
        mov [mouse_x], ax
        mov ax, [scr_h]
        shr ax, 1
        mov [mouse_y], ax
        mov byte [dirty], DIRTY_ALL

main_loop:
        cli
        movzx bx, byte [ring_tail]
        cmp bl, [ring_head]
        je .idle
        shl bx, 1
        mov ax, [RING + bx]
        inc byte [ring_tail]
        call handle_input
        jmp main_loop
.idle:
        call render_dirty
        sti                         ; sti; hlt: a pending IRQ ends the hlt
        hlt
        jmp main_loop

; ================================================================== input
; ax = one byte from the controller (al) and 20h in ah when it came from the
; aux (mouse) port.
handle_input:
        test ah, 0x20
        jnz mouse_byte
        cmp al, 0xe0
        je .prefix
        cmp al, 0xe1
        je .prefix
        mov [key_code], al
        mov bl, [key_prefix]
        mov [key_ext], bl
        mov byte [key_prefix], 0
        inc word [key_count]
        or byte [dirty], DIRTY_PANEL
        test bl, bl
        jnz .done
        cmp al, 0x14                ; make code of T: the test tone on or off
        jne .not_tone
        call toggle_tone
        ret
.not_tone:
        cmp al, 0x02                ; make codes of the keys 1-4
        jb .done
        cmp al, 0x05
        ja .done
        dec al
        call set_mode
.done:
        ret
.prefix:
        mov [key_prefix], al
        ret

; al = a mouse byte; three make a packet.
mouse_byte:
        movzx bx, byte [mouse_idx]
        test bx, bx
        jnz .store
        test al, 0x08               ; byte 0 always has bit 3 set: resynchronise
        jz .done
.store:
        mov [mouse_pkt + bx], al
        inc bx
        cmp bx, 3
        jae .packet
        mov [mouse_idx], bl
.done:
        ret
.packet:
        mov byte [mouse_idx], 0
        mov al, [mouse_pkt]
        mov ah, al
        and ah, 0x07                ; bit 0 left, bit 1 right, bit 2 middle
        mov [buttons], ah
        inc word [pkt_count]
        or byte [dirty], DIRTY_PANEL | DIRTY_CURSOR
        test al, 0xc0               ; X or Y overflow: the deltas are meaningless
        jnz .done
        movzx cx, byte [mouse_pkt + 1]
        test al, 0x10               ; X sign: the delta is 9-bit two's complement
        jz .x
        sub cx, 256
.x:
        movzx dx, byte [mouse_pkt + 2]
        test al, 0x20
        jz .y
        sub dx, 256
.y:
        add [mouse_x], cx
        sub [mouse_y], dx           ; PS/2 Y grows upwards, the screen's downwards
        call clamp_mouse
        ret

clamp_mouse:
        mov ax, [scr_w]
        dec ax
        cmp word [mouse_x], 0
        jge .x0
        mov word [mouse_x], 0
.x0:
        cmp [mouse_x], ax
        jle .x1
        mov [mouse_x], ax
.x1:
        mov ax, [scr_h]
        dec ax
        cmp word [mouse_y], 0
        jge .y0
        mov word [mouse_y], 0
.y0:
        cmp [mouse_y], ax
        jle .y1
        mov [mouse_y], ax
.y1:
        ret

; ================================================================== modes
; al = 1..4. CF set (and nothing changed) when the mode is not available.
set_mode:
        pusha
        cmp al, 1
        je .text
        cmp al, 2
        je .vga
        mov cx, 1024
        mov dx, 768
        cmp al, 3
        je .vbe
        mov cx, 1920
        mov dx, 1080
.vbe:
        push ax
        call vbe_set
        pop ax
        jc .fail
        jmp .set
.text:
        push ax
        mov ax, 0x0003
        int 0x10
        mov ax, 0x1003              ; attribute bit 7: bright background, not blink
        xor bx, bx
        int 0x10
        mov ah, 0x01                ; hide the hardware cursor
        mov cx, 0x2000
        int 0x10
        pop ax
        mov byte [bpp_bytes], 0
        mov word [scr_w], 640       ; the pointer moves over 8x16 character cells
        mov word [scr_h], 400
        jmp .set
.vga:
        push ax
        mov ax, 0x0013
        int 0x10
        pop ax
        mov dword [fb_base], 0xa0000
        mov dword [fb_pitch], 320
        mov word [scr_w], 320
        mov word [scr_h], 200
        mov byte [bpp_bytes], 1
.set:
        mov [cur_mode], al
        mov ax, 1                   ; scale: 1 below 640 pixels, 2 below 1600, else 3
        cmp byte [bpp_bytes], 0
        je .scale
        cmp word [scr_w], 640
        jb .scale
        inc ax
        cmp word [scr_w], 1600
        jb .scale
        inc ax
.scale:
        mov [scale], ax
        shl ax, 3
        mov [cell_w], ax
        shl ax, 1
        mov [cell_h], ax
        call build_mode_name
        call enter_unreal           ; the BIOS may have reloaded segment limits
        call clamp_mouse
        mov byte [dirty], DIRTY_ALL
        popa
        clc
        ret
.fail:
        call enter_unreal
        popa
        stc
        ret

; cx = width, dx = height: a 32-bit VBE mode with a linear framebuffer.
vbe_set:
%ifdef FORCE_DISPI
        jmp dispi_set               ; test build: exercise the fallback
%endif
        cmp byte [have_vbe], 0
        je dispi_set
        call vbe_find
        jc dispi_set
        pusha
        mov ax, 0x4f02
        or bx, 0x4000               ; use the linear framebuffer
        int 0x10
        mov [vbe_status], ax
        popa
        cmp word [vbe_status], 0x004f
        jne dispi_set
        mov eax, [MODE_INFO + 0x28] ; PhysBasePtr
        mov [fb_base], eax
        movzx eax, word [MODE_INFO + 0x10]
        cmp word [VBE_INFO + 4], 0x0300
        jb .pitch
        cmp word [MODE_INFO + 0x32], 0  ; VBE 3: LinBytesPerScanLine
        je .pitch
        movzx eax, word [MODE_INFO + 0x32]
.pitch:
        mov [fb_pitch], eax
        mov [scr_w], cx
        mov [scr_h], dx
        mov byte [bpp_bytes], 4
        mov [vbe_mode], bx
        clc
        ret

; cx = width, dx = height -> bx = mode number and MODE_INFO filled, or CF.
vbe_find:
        mov si, MODE_LIST
.next:
        lodsw
        cmp ax, 0xffff
        je .none
        mov bx, ax
        call vbe_mode_info
        jc .next
        mov ax, [MODE_INFO]
        and ax, 0x0091              ; supported, graphics, linear framebuffer
        cmp ax, 0x0091
        jne .next
        cmp [MODE_INFO + 0x12], cx
        jne .next
        cmp [MODE_INFO + 0x14], dx
        jne .next
        cmp byte [MODE_INFO + 0x19], 32
        jne .next
        clc
        ret
.none:
        stc
        ret

; bx = mode: int 10h 4F01h into MODE_INFO; CF when the BIOS refuses.
vbe_mode_info:
        pusha
        mov cx, bx
        mov di, MODE_INFO
        mov ax, 0x4f01
        int 0x10
        mov [vbe_status], ax
        popa
        cmp word [vbe_status], 0x004f
        je .ok
        stc
        ret
.ok:
        clc
        ret

; Reads the VBE controller info, copies its mode list, and notes the linear
; framebuffer address (the same for every mode) for the DISPI fallback.
vbe_probe:
        mov dword [VBE_INFO], 'VBE2'
        mov di, VBE_INFO
        mov ax, 0x4f00
        int 0x10
        xor bx, bx
        mov es, bx
        cmp ax, 0x004f
        jne .done
        push ds
        lds si, [VBE_INFO + 0x0e]   ; VideoModePtr
        mov di, MODE_LIST
        mov cx, 127
.copy:
        lodsw
        cmp ax, 0xffff
        je .copied
        stosw
        loop .copy
.copied:
        pop ds
        mov word [di], 0xffff
        mov byte [have_vbe], 1
        mov si, MODE_LIST
.lfb:
        lodsw
        cmp ax, 0xffff
        je .done
        mov bx, ax
        call vbe_mode_info
        jc .lfb
        test byte [MODE_INFO], 0x80
        jz .lfb
        mov eax, [MODE_INFO + 0x28]
        mov [lfb_base], eax
.done:
        call enter_unreal
        ret

; cx = width, dx = height: 32 bpp through the Bochs DISPI registers.
dispi_set:
        cmp dword [lfb_base], 0
        je .fail
        xor bx, bx                  ; index 0: ID, B0C0h-B0C5h
        call dispi_read
        cmp ax, 0xb0c0
        jb .fail
        cmp ax, 0xb0c5
        ja .fail
        mov bx, 4                   ; disable while changing the geometry
        xor ax, ax
        call dispi_write
        mov bx, 1
        mov ax, cx
        call dispi_write
        mov bx, 2
        mov ax, dx
        call dispi_write
        mov bx, 3
        mov ax, 32
        call dispi_write
        mov bx, 6                   ; virtual width
        mov ax, cx
        call dispi_write
        mov bx, 8                   ; x offset
        xor ax, ax
        call dispi_write
        mov bx, 9                   ; y offset
        call dispi_write
        mov bx, 4
        mov ax, 0x41                ; enabled, linear framebuffer
        call dispi_write
        mov eax, [lfb_base]
        mov [fb_base], eax
        movzx eax, cx
        shl eax, 2
        mov [fb_pitch], eax
        mov [scr_w], cx
        mov [scr_h], dx
        mov byte [bpp_bytes], 4
        mov word [vbe_mode], 0      ; 0: set through DISPI
        clc
        ret
.fail:
        stc
        ret

; bx = index, ax = value.
dispi_write:
        push dx
        push ax
        mov dx, 0x1ce
        mov ax, bx
        out dx, ax
        inc dx
        pop ax
        out dx, ax
        pop dx
        ret

; bx = index -> ax = value.
dispi_read:
        push dx
        mov dx, 0x1ce
        mov ax, bx
        out dx, ax
        inc dx
        in ax, dx
        pop dx
        ret

; Builds the title's mode description, e.g. "1024x768x32 VBE 0118" (the VBE
; mode number) or "1920x1080x32 DISPI" (set through the Bochs ports).
build_mode_name:
        pusha
        mov di, mode_name
        cmp byte [bpp_bytes], 0
        jne .graphics
        mov si, text_mode_name
.copy:
        lodsb
        stosb
        test al, al
        jnz .copy
        popa
        ret
.graphics:
        mov ax, [scr_w]
        call write_dec
        mov byte [di], 'x'
        inc di
        mov ax, [scr_h]
        call write_dec
        mov byte [di], 'x'
        inc di
        movzx ax, byte [bpp_bytes]
        shl ax, 3
        call write_dec
        cmp byte [bpp_bytes], 4
        jne .done
        mov si, s_dispi
        mov ax, [vbe_mode]
        test ax, ax
        jz .how
        mov si, s_vbe
.how:
        movsb
        cmp byte [si - 1], 0
        jne .how
        dec di
        test ax, ax
        jz .done
        mov cx, 4                   ; the mode number in hex
.hex:
        rol ax, 4
        mov bx, ax
        and bx, 0x0f
        mov bl, [hex_digits + bx]
        mov [di], bl
        inc di
        loop .hex
.done:
        mov byte [di], 0
        popa
        ret

; ax -> decimal digits at di (di advances).
write_dec:
        push ax
        push bx
        push cx
        push dx
        mov bx, 10
        xor cx, cx
.div:
        xor dx, dx
        div bx
        push dx
        inc cx
        test ax, ax
        jnz .div
.out:
        pop ax
        add al, '0'
        mov [di], al
        inc di
        loop .out
        pop dx
        pop cx
        pop bx
        pop ax
        ret

; ================================================================== drawing
; Redraws what the input changed. Interrupts are off, so no BIOS code runs
; while the segment limits matter.
render_dirty:
        mov al, [dirty]
        test al, al
        jz .done
        mov byte [dirty], 0
        cld                         ; the string stores below count upwards
        call enter_unreal
        cmp byte [bpp_bytes], 0
        jne .graphics
        call render_text_screen
        ret
.graphics:
        test al, DIRTY_ALL
        jz .panel
        xor ax, ax
        xor bx, bx
        mov cx, [scr_w]
        mov dx, [scr_h]
        call set_clip
        call render_scene
        jmp .remember
.panel:
        test al, DIRTY_PANEL
        jz .cursor
        push ax
        xor ax, ax
        xor bx, bx
        mov cx, [cell_w]
        imul cx, cx, PANEL_COLS
        mov dx, [cell_h]
        imul dx, dx, PANEL_ROWS
        call set_clip
        call render_scene
        pop ax
.cursor:
        test al, DIRTY_CURSOR
        jz .remember
        mov ax, [drawn_x]           ; where the crosshair was ...
        mov bx, [drawn_y]
        call cursor_clip
        call render_scene
        mov ax, [mouse_x]           ; ... and where it is now
        mov bx, [mouse_y]
        call cursor_clip
        call render_scene
.remember:
        mov ax, [mouse_x]
        mov [drawn_x], ax
        mov ax, [mouse_y]
        mov [drawn_y], ax
.done:
        ret

; ax, bx = crosshair centre -> clip to the crosshair's bounding box.
cursor_clip:
        mov cx, [cell_h]            ; arm length, as in draw_crosshair
        sub ax, cx
        sub bx, cx
        shl cx, 1
        inc cx
        mov dx, cx
        call set_clip
        ret

; ax, bx, cx, dx = x, y, w, h: the clip rectangle, intersected with the screen.
set_clip:
        pusha
        add cx, ax
        add dx, bx
        cmp ax, 0
        jge .x0
        xor ax, ax
.x0:
        cmp bx, 0
        jge .y0
        xor bx, bx
.y0:
        cmp cx, [scr_w]
        jle .x1
        mov cx, [scr_w]
.x1:
        cmp dx, [scr_h]
        jle .y1
        mov dx, [scr_h]
.y1:
        mov [clip_x0], ax
        mov [clip_y0], bx
        mov [clip_x1], cx
        mov [clip_y1], dx
        popa
        ret

; The whole picture, drawn through the clip rectangle.
render_scene:
        pusha
        mov byte [color], BLUE
        xor ax, ax
        xor bx, bx
        mov cx, [scr_w]
        mov dx, [scr_h]
        call fill_rect
        mov byte [color], CYAN      ; title bar across the screen
        mov dx, [cell_h]
        call fill_rect
        call draw_panel
        call draw_crosshair
        popa
        ret

; Text mode: the same panel in character cells, the pointer's cell highlighted.
render_text_screen:
        pusha
        mov edi, 0xb8000
        mov ecx, 80 * 25
        mov ax, 0x1720              ; light grey on blue
        a32 rep stosw
        mov edi, 0xb8000
        mov ecx, 80
        mov ax, 0x3020              ; title bar: black on cyan
        a32 rep stosw
        call draw_panel
        movzx eax, word [mouse_y]
        shr eax, 4
        imul eax, eax, 80
        movzx ebx, word [mouse_x]
        shr ebx, 3
        add eax, ebx
        mov byte [es:0xb8000 + eax * 2 + 1], 0x4e   ; yellow on red
        popa
        ret

; The state panel; works in text and graphics modes (put_char / put_cell).
draw_panel:
        pusha
        mov word [fg], BLACK | (CYAN << 8)
        mov dx, 0x0001              ; dh = row, dl = column
        mov si, s_title
        call put_text
        mov si, mode_name
        call put_text

        mov word [fg], WHITE | (BLUE << 8)
        mov dx, 0x0201
        mov si, s_key
        call put_text
        mov dl, 6                   ; scancode bits, most significant first
        mov ah, [key_code]
        mov cx, 8
.bit:
        mov byte [color], BLACK
        shl ah, 1
        jnc .bit_off
        mov byte [color], LGREEN
.bit_off:
        call put_cell
        inc dl
        loop .bit
        mov dl, 15                  ; make (green) / break (red) / nothing yet
        mov byte [color], DGRAY
        mov si, s_none
        cmp word [key_count], 0
        je .edge
        mov byte [color], LGREEN
        mov si, s_down
        test byte [key_code], 0x80
        jz .edge
        mov byte [color], LRED
        mov si, s_up
.edge:
        call put_cell
        mov byte [fg], YELLOW
        mov dl, 23
        call put_text
        mov dl, 17
        mov al, [key_code]
        call put_hex8
        mov dl, 20
        mov si, s_blank2
        mov al, [key_ext]
        test al, al
        jz .ext
        call put_hex8
        jmp .events
.ext:
        call put_text
.events:
        mov byte [fg], WHITE
        mov dx, 0x0301
        mov si, s_events
        call put_text
        mov dl, 8
        mov ax, [key_count]
        call put_hex16

        mov dx, 0x0501
        mov si, s_mouse
        call put_text
        mov dl, 8                   ; buttons: left red, middle green, right blue
        mov al, 0x01
        mov ah, LRED
        mov si, s_left
        call put_button
        mov dl, 12
        mov al, 0x04
        mov ah, LGREEN
        mov si, s_middle
        call put_button
        mov dl, 16
        mov al, 0x02
        mov ah, LBLUE
        mov si, s_right
        call put_button

        mov dx, 0x0601
        mov si, s_pkts
        call put_text
        mov dl, 6
        mov ax, [pkt_count]
        call put_hex16
        mov dl, 12
        mov si, s_x
        call put_text
        mov dl, 14
        mov ax, [mouse_x]
        call put_hex16
        mov dl, 20
        mov si, s_y
        call put_text
        mov dl, 22
        mov ax, [mouse_y]
        call put_hex16

        mov byte [fg], LGRAY
        mov dx, 0x0801
        mov si, s_help1
        call put_text
        mov dx, 0x0901
        mov si, s_help2
        call put_text
        mov dx, 0x0b01              ; the 16 colours, to check colour fidelity
        xor al, al
.swatch:
        mov [color], al
        call put_cell
        inc dl
        inc al
        cmp al, 16
        jb .swatch
        popa
        ret

; al = button bit, ah = colour when held, si = label, dl/dh = cell.
put_button:
        push word [fg]
        mov byte [bg], BLACK
        test [buttons], al
        jz .draw
        mov [bg], ah
.draw:
        call put_text
        pop word [fg]
        ret

; The crosshair: a cross with arms of one cell height and a square around its
; centre, white, yellow while a button is held.
draw_crosshair:
        pusha
        mov byte [color], WHITE
        cmp byte [buttons], 0
        je .white
        mov byte [color], YELLOW
.white:
        mov si, [cell_h]            ; arm length
        mov ax, [mouse_x]           ; horizontal arm
        sub ax, si
        mov bx, [mouse_y]
        mov cx, si
        shl cx, 1
        inc cx
        mov dx, 1
        call fill_rect
        mov ax, [mouse_x]           ; vertical arm
        mov bx, [mouse_y]
        sub bx, si
        mov dx, cx
        mov cx, 1
        call fill_rect
        shr si, 1                   ; square of half the arm length
        mov ax, [mouse_x]
        sub ax, si
        mov bx, [mouse_y]
        sub bx, si
        mov cx, si
        shl cx, 1
        inc cx
        mov dx, 1
        call fill_rect              ; top
        push bx
        add bx, cx
        dec bx
        call fill_rect              ; bottom
        pop bx
        mov dx, cx
        mov cx, 1
        call fill_rect              ; left
        add ax, dx
        dec ax
        call fill_rect              ; right
        popa
        ret

; si -> zero-terminated text at cell (dl, dh); dl ends after the text.
put_text:
        push ax
        push si
.next:
        lodsb
        test al, al
        jz .done
        call put_char
        inc dl
        jmp .next
.done:
        pop si
        pop ax
        ret

; ax -> four hex digits at (dl, dh).
put_hex16:
        push ax
        xchg al, ah
        call put_hex8
        pop ax
        push ax
        add dl, 2
        call put_hex8
        sub dl, 2
        pop ax
        ret

; al -> two hex digits at (dl, dh).
put_hex8:
        push ax
        push bx
        mov bl, al
        shr al, 4
        call .digit
        inc dl
        mov al, bl
        and al, 0x0f
        call .digit
        dec dl
        pop bx
        pop ax
        ret
.digit:
        push bx
        movzx bx, al
        mov al, [hex_digits + bx]
        call put_char
        pop bx
        ret

; A coloured cell ([color]) at (dl, dh), inset so neighbours stay apart.
put_cell:
        pusha
        cmp byte [bpp_bytes], 0
        jne .graphics
        push word [fg]
        mov al, [color]
        mov [bg], al
        mov al, ' '
        call put_char
        pop word [fg]
        popa
        ret
.graphics:
        call cell_origin            ; ax, bx = top left pixel
        mov cx, [scale]
        add ax, cx
        shl cx, 1
        add bx, cx
        mov cx, [cell_w]
        sub cx, [scale]
        sub cx, [scale]
        mov dx, [cell_h]
        sub dx, [scale]
        sub dx, [scale]
        sub dx, [scale]
        sub dx, [scale]
        call fill_rect
        popa
        ret

; (dl, dh) -> ax, bx = top left pixel of that character cell.
cell_origin:
        movzx ax, dl
        imul ax, [cell_w]
        movzx bx, dh
        imul bx, [cell_h]
        ret

; al = character at cell (dl, dh) in [fg] on [bg].
put_char:
        pusha
        cmp byte [bpp_bytes], 0
        jne .graphics
        mov ah, [bg]                ; text mode: one attribute/character word
        shl ah, 4
        or ah, [fg]
        movzx edi, dh
        imul edi, edi, 80
        movzx ebx, dl
        add edi, ebx
        mov [es:0xb8000 + edi * 2], ax
        popa
        ret
.graphics:
        mov [glyph_char], al
        call cell_origin
        cmp ax, [clip_x1]           ; skip cells outside the clip rectangle
        jge .done
        cmp bx, [clip_y1]
        jge .done
        mov cx, ax
        add cx, [cell_w]
        cmp cx, [clip_x0]
        jle .done
        mov cx, bx
        add cx, [cell_h]
        cmp cx, [clip_y0]
        jle .done
        mov cl, [bg]
        mov [color], cl
        mov cx, [cell_w]
        mov dx, [cell_h]
        call fill_rect              ; background
        mov cl, [fg]
        mov [color], cl
        movzx si, byte [glyph_char]
        shl si, 4
        add si, FONT
        mov di, 16                  ; glyph rows
        mov [glyph_x], ax
.row:
        mov cl, [si]
        mov [glyph_bits], cl
        mov ax, [glyph_x]
        mov byte [glyph_col], 8
.pixel:
        shl byte [glyph_bits], 1
        jnc .blank
        mov cx, [scale]
        mov dx, cx
        call fill_rect
.blank:
        add ax, [scale]
        dec byte [glyph_col]
        jnz .pixel
        add bx, [scale]
        inc si
        dec di
        jnz .row
.done:
        popa
        ret

; ax, bx, cx, dx = x, y, w, h (signed) in [color], clipped to the clip rect.
fill_rect:
        pushad
        add cx, ax                  ; cx, dx = right and bottom edges (exclusive)
        add dx, bx
        cmp ax, [clip_x0]
        jge .x0
        mov ax, [clip_x0]
.x0:
        cmp bx, [clip_y0]
        jge .y0
        mov bx, [clip_y0]
.y0:
        cmp cx, [clip_x1]
        jle .x1
        mov cx, [clip_x1]
.x1:
        cmp dx, [clip_y1]
        jle .y1
        mov dx, [clip_y1]
.y1:
        sub cx, ax
        jle .done
        sub dx, bx
        jle .done
        movzx eax, ax
        movzx ebx, bx
        movzx ecx, cx
        movzx edx, dx
        imul ebx, [fb_pitch]
        add ebx, [fb_base]
        movzx esi, byte [color]
        cmp byte [bpp_bytes], 4
        jne .bytes
        lea ebx, [ebx + eax * 4]
        mov eax, [rgb_table + esi * 4]
.row32:
        mov edi, ebx
        push ecx
        a32 rep stosd
        pop ecx
        add ebx, [fb_pitch]
        dec edx
        jnz .row32
        jmp .done
.bytes:
        add ebx, eax
        mov eax, esi
.row8:
        mov edi, ebx
        push ecx
        a32 rep stosb
        pop ecx
        add ebx, [fb_pitch]
        dec edx
        jnz .row8
.done:
        popad
        ret

; ================================================================== setup
enable_a20:
        in al, 0x92                 ; "fast A20" gate
        or al, 0x02
        and al, 0xfe                ; bit 0 would reset the machine
        out 0x92, al
        ret

; Loads 4 GiB limits into DS, ES, FS and GS, then returns to real mode with
; the segment values unchanged (0): 32-bit offsets reach the framebuffer.
enter_unreal:
        pushf
        push eax
        push bx
        cli
        push ds
        push es
        push fs
        push gs
        lgdt [gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp short .pm
.pm:
        mov bx, 0x08
        mov ds, bx
        mov es, bx
        mov fs, bx
        mov gs, bx
        and al, 0xfe
        mov cr0, eax
        jmp short .rm
.rm:
        pop gs
        pop fs
        pop es
        pop ds
        pop bx
        pop eax
        popf
        ret

; Copies the VGA BIOS's 8x16 font, used to draw text in graphics modes.
load_font:
        push ds
        mov ax, 0x1130
        mov bh, 0x06
        int 0x10                    ; es:bp -> font
        push es
        pop ds
        mov si, bp
        xor ax, ax
        mov es, ax
        mov di, FONT
        mov cx, 256 * 16 / 2
        rep movsw
        pop ds
        ret

; ------------------------------------------------------------------ sound
; T toggles a test tone on the Sound Blaster 16 (base 220h, DMA 1): a square
; wave of 50 samples per period at 22050 Hz (441 Hz), 8-bit unsigned mono,
; played by auto-init DMA from a 2200-byte buffer at 3000:0000 (44 periods,
; so the loop is seamless). No IRQ handler: IRQ 5 stays masked, and
; auto-init carries on by itself.
SB_BASE     equ 0x220
TONE_SEG    equ 0x3000
TONE_PERIOD equ 50
TONE_BYTES  equ TONE_PERIOD * 44

toggle_tone:
        xor byte [tone_on], 1
        jz .off
        call sb_reset
        jc .fail
        push es
        mov ax, TONE_SEG
        mov es, ax
        xor di, di
        mov cx, TONE_BYTES
.fill:
        mov ax, di
        xor dx, dx
        push cx
        mov cx, TONE_PERIOD
        div cx                      ; dx = position in the period
        pop cx
        mov al, 128 + 64
        cmp dx, TONE_PERIOD / 2
        jb .high
        mov al, 128 - 64
.high:
        stosb
        loop .fill
        pop es
        ; DMA channel 1: single mode, auto-init, memory to device.
        mov al, 0x05
        out 0x0a, al                ; mask channel 1
        xor al, al
        out 0x0c, al                ; clear the byte flip-flop
        mov al, 0x59
        out 0x0b, al
        xor al, al
        out 0x02, al                ; address 0000 in page 3 (= 3000:0000)
        out 0x02, al
        mov al, TONE_SEG >> 12
        out 0x83, al
        mov ax, TONE_BYTES - 1
        out 0x03, al
        mov al, ah
        out 0x03, al
        mov al, 0x01
        out 0x0a, al                ; unmask channel 1
        mov al, 0xd1                ; speaker on
        call sb_write
        mov al, 0x41                ; output rate 22050 Hz, high byte first
        call sb_write
        mov al, 22050 >> 8
        call sb_write
        mov al, 22050 & 0xff
        call sb_write
        mov al, 0xc6                ; 8-bit output, auto-init, FIFO
        call sb_write
        xor al, al                  ; mono, unsigned
        call sb_write
        mov ax, TONE_BYTES - 1
        call sb_write
        mov al, ah
        call sb_write
        ret
.off:
        mov al, 0xda                ; exit 8-bit auto-init after this block
        call sb_write
        mov al, 0xd0                ; and pause now
        call sb_write
        ret
.fail:
        mov byte [tone_on], 0
        ret

; Resets the DSP; CF set when it does not answer AAh.
sb_reset:
        mov dx, SB_BASE + 6
        mov al, 1
        out dx, al
        in al, dx                   ; a few microseconds
        in al, dx
        xor al, al
        out dx, al
        mov cx, 1000
.wait:
        mov dx, SB_BASE + 0xe
        in al, dx
        test al, 0x80
        jnz .read
        loop .wait
        stc
        ret
.read:
        mov dx, SB_BASE + 0xa
        in al, dx
        sub al, 0xaa                ; 0 when the DSP answered AAh
        cmp al, 1                   ; CF = (al == 0)
        cmc                         ; CF = (al != 0): no answer
        ret

; al = a byte for the DSP; waits until it takes one.
sb_write:
        push ax
        mov dx, SB_BASE + 0xc
.busy:
        in al, dx
        test al, 0x80
        jnz .busy
        pop ax
        out dx, al
        ret

install_irqs:
        cli
        mov word [0x09 * 4], irq_keyboard
        mov word [0x09 * 4 + 2], 0
        mov word [0x74 * 4], irq_mouse
        mov word [0x74 * 4 + 2], 0
        in al, 0x21
        and al, 0xf9                ; unmask IRQ1 and the cascade (IRQ2)
        out 0x21, al
        in al, 0xa1
        and al, 0xef                ; unmask IRQ12
        out 0xa1, al
        ret

; Enables the aux (mouse) port and its interrupt, and makes the mouse stream.
init_mouse:
.drain:
        in al, 0x64
        test al, 0x01
        jz .empty
        in al, 0x60
        jmp .drain
.empty:
        mov al, 0xa8                ; enable the aux port
        call kbc_command
        mov al, 0x20                ; read the configuration byte
        call kbc_command
        call kbc_read
        jc .done
        or al, 0x03                 ; IRQ1 and IRQ12 on
        and al, 0xdf                ; aux clock on (bit 5 disables it)
        mov ah, al
        mov al, 0x60                ; write the configuration byte
        call kbc_command
        mov al, ah
        call kbc_data
        mov al, 0xf6                ; mouse: defaults (100 Hz, 4 counts/mm, stream)
        call mouse_command
        mov al, 0xf4                ; mouse: enable data reporting
        call mouse_command
.done:
        ret

; al = command for the mouse; waits for its acknowledgement.
mouse_command:
        push ax
        mov al, 0xd4                ; next data byte goes to the aux device
        call kbc_command
        pop ax
        call kbc_data
        call kbc_read
        ret

; al = controller command (port 64h).
kbc_command:
        call kbc_wait_input
        out 0x64, al
        ret

; al = data byte (port 60h).
kbc_data:
        call kbc_wait_input
        out 0x60, al
        ret

kbc_wait_input:
        push ax
        push cx
        mov cx, 0xffff
.wait:
        in al, 0x64
        test al, 0x02
        jz .ready
        loop .wait
.ready:
        pop cx
        pop ax
        ret

; -> al = next byte from port 60h, CF when none came.
kbc_read:
        push cx
        mov cx, 0xffff
.wait:
        in al, 0x64
        test al, 0x01
        jnz .ready
        loop .wait
        pop cx
        stc
        ret
.ready:
        in al, 0x60
        pop cx
        clc
        ret

; IRQ1 and IRQ12 queue one byte each with the aux flag of the status register.
; They may interrupt BIOS code with any DS, hence the CS overrides (CS = 0).
irq_keyboard:
        push ax
        call irq_read
        mov al, 0x20
        out 0x20, al
        pop ax
        iret

irq_mouse:
        push ax
        call irq_read
        mov al, 0x20
        out 0xa0, al
        out 0x20, al
        pop ax
        iret

irq_read:
        push bx
        in al, 0x64
        test al, 0x01
        jz .done
        mov ah, al
        in al, 0x60
        and ah, 0x20
        mov bl, [cs:ring_head]
        inc bl
        cmp bl, [cs:ring_tail]
        je .done                    ; full: drop the byte
        dec bl
        xor bh, bh
        shl bx, 1
        mov [cs:RING + bx], ax
        inc byte [cs:ring_head]
.done:
        pop bx
        ret

; ================================================================== data
gdt:
        dq 0
        dq 0x00cf92000000ffff       ; data, base 0, limit 4 GiB, writable
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd gdt

rgb_table:                          ; the EGA colours as 00RRGGBBh
        dd 0x000000, 0x0000aa, 0x00aa00, 0x00aaaa, 0xaa0000, 0xaa00aa, 0xaa5500, 0xaaaaaa
        dd 0x555555, 0x5555ff, 0x55ff55, 0x55ffff, 0xff5555, 0xff55ff, 0xffff55, 0xffffff

hex_digits:     db "0123456789ABCDEF"
s_title:        db "SPICE-WEB GFX  ", 0
s_vbe:          db " VBE ", 0
s_dispi:        db " DISPI", 0
text_mode_name: db "80x25 TEXT", 0
s_key:          db "KEY", 0
s_down:         db "DOWN", 0
s_up:           db "UP  ", 0
s_none:         db "----", 0
s_blank2:       db "  ", 0
s_events:       db "EVENTS", 0
s_mouse:        db "MOUSE", 0
s_left:         db " L ", 0
s_middle:       db " M ", 0
s_right:        db " R ", 0
s_pkts:         db "PKTS", 0
s_x:            db "X", 0
s_y:            db "Y", 0
s_help1:        db "1:TEXT 80x25  2:VGA 320x200x8", 0
s_help2:        db "3:VBE 1024x768 4:VBE 1920x1080", 0

ring_head:      db 0
ring_tail:      db 0
dirty:          db 0
have_vbe:       db 0
cur_mode:       db 0
bpp_bytes:      db 0                ; 0 text, 1 palette, 4 true colour
key_code:       db 0
key_ext:        db 0
key_prefix:     db 0
key_count:      dw 0
tone_on:        db 0
mouse_idx:      db 0
mouse_pkt:      db 0, 0, 0
buttons:        db 0
pkt_count:      dw 0
mouse_x:        dw 0
mouse_y:        dw 0
drawn_x:        dw 0
drawn_y:        dw 0
vbe_status:     dw 0
vbe_mode:       dw 0                ; VBE mode number, 0 when set through DISPI
scr_w:          dw 0
scr_h:          dw 0
scale:          dw 1
cell_w:         dw 8
cell_h:         dw 16
fg:             db 0                ; fg and bg are read and written as one word
bg:             db 0
color:          db 0
glyph_char:     db 0
glyph_bits:     db 0
glyph_col:      db 0
glyph_x:        dw 0
clip_x0:        dw 0
clip_y0:        dw 0
clip_x1:        dw 0
clip_y1:        dw 0
        align 4
fb_base:        dd 0
fb_pitch:       dd 0
lfb_base:       dd 0
mode_name:      times 24 db 0

image_end:
